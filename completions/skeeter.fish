# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_skeeter_global_optspecs
    string join \n h/help V/version
end

function __fish_skeeter_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_skeeter_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_skeeter_using_subcommand
    set -l cmd (__fish_skeeter_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c skeeter -n "__fish_skeeter_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_needs_command" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "pub" -d 'Publish one message, a file, or one message per line of standard input'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "sub" -d 'Subscribe to topic filters and print the messages received'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "rr" -d 'Send a request and print its reply (MQTT 5 request/response, as mosquitto_rr)'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "run" -d 'Run a command (a cron job) and report its state, output and exit on MQTT'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "clean-retained" -d 'List or clear every retained message under a topic filter'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "probe" -d 'Report what a broker supports and how it behaves (versions, QoS, retain, limits, latency)'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "bench" -d 'Load a broker and measure it: publishers and subscribers end to end, or pub, sub or conn alone (throughput, latency percentiles, losses)'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "broker" -d 'Run the embedded MQTT broker'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "passwd" -d 'Manage a password file for `broker --password-file` (mosquitto_passwd\'s format and usage)'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "links" -d 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "generate" -d 'Write the shell completions and man pages (for packagers and this repository)'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s t -l topic -d 'Topic to publish to (no wildcards)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s m -l message -d 'Send this message' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s f -l file -d 'Send the whole file as one message (binary safe)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l repeat -d 'Send the message this many times (not with -l)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l repeat-delay -d 'Wait this long (fractions allowed) between the end of one publish and the next with --repeat' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l content-type -d 'The content type of the message (e.g. application/json)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l message-expiry -d 'The broker drops the message if not delivered within this many seconds' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l response-topic -d 'The topic a receiver should reply to (no wildcards)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l correlation-data -d 'Data for the receiver to return with its reply (sent as given)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l user-property -d 'A user property of the message (repeatable; order and duplicates kept)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s p -l port -d 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint\'s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l profile -d 'Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port, cafile, username, password_file, ...). Options and their environment variables override the profile\'s settings' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s P -l pw -d 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l pw-file -d 'Read the password from the first line of this file (the newline is not part of it)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s x -l session-expiry -d 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s D -l property -d 'MQTT 5: a property, as mosquitto\'s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l nodelay -d 'Send each packet at once (TCP_NODELAY): on by default (mosquitto\'s clients default to off). --nodelay=false lets the kernel gather small packets (Nagle\'s algorithm), which stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l ws-path -d 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l cafile -d 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l capath -d 'Turn TLS on and trust the PEM CA certificates of the files in this directory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l cert -d 'Client certificate (PEM) to present to the broker; needs --key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l key -d 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l tls-version -d 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]' -r -f -a "tlsv1.2\t''
tlsv1.3\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l tls-alpn -d 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s s -l stdin-file -d 'Send all of standard input as one message (binary safe)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s l -l stdin-line -d 'Send each line of standard input as one message (the newline is not sent; an empty line sends an empty message; a line is held in memory whole, up to the MQTT limit of 256 MB)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s n -l null-message -d 'Send an empty (zero-length) message'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l json -d 'Read JSON lines from standard input, as `sub --json` writes them, and publish each to its own topic: "topic" and "payload" (UTF-8, or base64 with "payload_encoding":"base64") are needed; "qos" and "retain" default to -q and -r; "properties" (MQTT 5, needs -V 5) replace those of the command line. A bad line stops the run (exit 10) once the messages before it are sent'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s r -l retain -d 'Ask the broker to retain the message'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l payload-is-utf8 -d 'Mark the payload as UTF-8 text (payload format indicator 1)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l ws -d 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l tls-use-os-certs -d 'Turn TLS on and trust the system\'s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l insecure -d 'Do not check that the broker\'s certificate is for the host connected to (its chain is still verified)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l no-tls -d 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s t -l topic -d 'Topic filter to subscribe to (repeatable; + and # wildcards)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s T -l filter-out -d 'Do not print messages whose topic matches this filter (repeatable)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s U -l unsubscribe -d 'Unsubscribe from this filter after subscribing (repeatable; with -c, edits a kept session)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s C -d 'Exit after this many messages' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s W -d 'Give up after this many seconds (exit 27, \'Timed out\' on stderr)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s F -d 'Print each message with this format (see FORMAT below); takes precedence over -v' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l random-filter -d 'Print only this percentage of the messages, chosen at random (all are still counted by -C)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l retain-handling -d 'Retained messages on subscribing: 0 always, 1 only for a new subscription, 2 never [default: 0; 2 with -R]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l subscription-id -d 'Give the subscriptions this identifier; messages show it as %S (1 to 268435455)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l user-property -d 'A user property of the SUBSCRIBE (repeatable)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s p -l port -d 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint\'s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l profile -d 'Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port, cafile, username, password_file, ...). Options and their environment variables override the profile\'s settings' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s P -l pw -d 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l pw-file -d 'Read the password from the first line of this file (the newline is not part of it)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s x -l session-expiry -d 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s D -l property -d 'MQTT 5: a property, as mosquitto\'s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l nodelay -d 'Send each packet at once (TCP_NODELAY): on by default (mosquitto\'s clients default to off). --nodelay=false lets the kernel gather small packets (Nagle\'s algorithm), which stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l ws-path -d 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l cafile -d 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l capath -d 'Turn TLS on and trust the PEM CA certificates of the files in this directory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l cert -d 'Client certificate (PEM) to present to the broker; needs --key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l key -d 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l tls-version -d 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]' -r -f -a "tlsv1.2\t''
tlsv1.3\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l tls-alpn -d 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s v -l verbose -d 'Print the topic before each payload: \'topic payload\''
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s N -d 'Do not print a newline after each message'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s R -d 'Do not print retained messages (those the broker held before we subscribed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l retained-only -d 'Print only retained messages; exit at the first message that is not retained'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s E -d 'Exit as soon as the subscriptions are acknowledged (with -c, sets up a kept session)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l pretty -d 'Indent the JSON of %j and %J'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l json -d 'Print each message as one JSON object per line (always valid JSON, nothing else on stdout): topic, qos, retain, dup, mid, received (RFC 3339, UTC), payload (a string when UTF-8, else base64 with "payload_encoding":"base64"), payload_length, and the MQTT 5 properties. `pub --json` reads these lines back'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l remove-retained -d 'Clear every retained message received: publish an empty retained message to its topic'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l no-local -d 'Do not receive the messages this connection publishes itself (subscription option)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l retain-as-published -d 'Keep the retain flag of messages as published, not only for retained ones sent on subscribing (subscription option)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l ws -d 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l tls-use-os-certs -d 'Turn TLS on and trust the system\'s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l insecure -d 'Do not check that the broker\'s certificate is for the host connected to (its chain is still verified)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l no-tls -d 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s t -l topic -d 'Topic to send the request to (no wildcards)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s e -l response-topic -d 'Topic the reply is expected on: subscribed to, and sent as the response topic' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s m -l message -d 'Send this message' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s f -l file -d 'Send the whole file as one message (binary safe)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s W -d 'Give up after this many seconds (exit 27, \'Timed out\' on stderr)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s F -d 'Print the reply with this format (see FORMAT below); takes precedence over -v' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s p -l port -d 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint\'s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l profile -d 'Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port, cafile, username, password_file, ...). Options and their environment variables override the profile\'s settings' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s P -l pw -d 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l pw-file -d 'Read the password from the first line of this file (the newline is not part of it)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s x -l session-expiry -d 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s D -l property -d 'MQTT 5: a property, as mosquitto\'s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l nodelay -d 'Send each packet at once (TCP_NODELAY): on by default (mosquitto\'s clients default to off). --nodelay=false lets the kernel gather small packets (Nagle\'s algorithm), which stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l ws-path -d 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l cafile -d 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l capath -d 'Turn TLS on and trust the PEM CA certificates of the files in this directory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l cert -d 'Client certificate (PEM) to present to the broker; needs --key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l key -d 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l tls-version -d 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]' -r -f -a "tlsv1.2\t''
tlsv1.3\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l tls-alpn -d 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s s -l stdin-file -d 'Send all of standard input as one message (binary safe)'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s n -l null-message -d 'Send an empty (zero-length) message'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s v -l verbose -d 'Print the topic before the reply: \'topic payload\''
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s N -d 'Do not print a newline after the reply'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l pretty -d 'Indent the JSON of %j and %J'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l ws -d 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l tls-use-os-certs -d 'Turn TLS on and trust the system\'s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l insecure -d 'Do not check that the broker\'s certificate is for the host connected to (its chain is still verified)'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l no-tls -d 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand rr" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s t -l topic -d 'The job\'s topic: its state goes here, its output under TOPIC/out and TOPIC/err' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l heartbeat -d 'Publish a heartbeat state (with the elapsed time) every SECS seconds' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l output -d 'What to do with the command\'s output lines: publish them (lines) or not (none). They always go to skeeter\'s own stdout and stderr' -r -f -a "lines\t''
none\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l retain -d 'Retain the state messages (and the will), so a watcher subscribing later sees the last state' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s p -l port -d 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint\'s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l profile -d 'Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port, cafile, username, password_file, ...). Options and their environment variables override the profile\'s settings' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s P -l pw -d 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l pw-file -d 'Read the password from the first line of this file (the newline is not part of it)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s x -l session-expiry -d 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s D -l property -d 'MQTT 5: a property, as mosquitto\'s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l nodelay -d 'Send each packet at once (TCP_NODELAY): on by default (mosquitto\'s clients default to off). --nodelay=false lets the kernel gather small packets (Nagle\'s algorithm), which stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l ws-path -d 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l cafile -d 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l capath -d 'Turn TLS on and trust the PEM CA certificates of the files in this directory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l cert -d 'Client certificate (PEM) to present to the broker; needs --key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l key -d 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l tls-version -d 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]' -r -f -a "tlsv1.2\t''
tlsv1.3\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l tls-alpn -d 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l require-broker -d 'Do not run the command unless the broker can be reached (exit 1 if not)'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l ws -d 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l tls-use-os-certs -d 'Turn TLS on and trust the system\'s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l insecure -d 'Do not check that the broker\'s certificate is for the host connected to (its chain is still verified)'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l no-tls -d 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand run" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s W -d 'Give up after this many seconds (exit 27)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s p -l port -d 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint\'s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l profile -d 'Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port, cafile, username, password_file, ...). Options and their environment variables override the profile\'s settings' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s P -l pw -d 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l pw-file -d 'Read the password from the first line of this file (the newline is not part of it)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s x -l session-expiry -d 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s D -l property -d 'MQTT 5: a property, as mosquitto\'s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l nodelay -d 'Send each packet at once (TCP_NODELAY): on by default (mosquitto\'s clients default to off). --nodelay=false lets the kernel gather small packets (Nagle\'s algorithm), which stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l ws-path -d 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l cafile -d 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l capath -d 'Turn TLS on and trust the PEM CA certificates of the files in this directory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l cert -d 'Client certificate (PEM) to present to the broker; needs --key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l key -d 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l tls-version -d 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]' -r -f -a "tlsv1.2\t''
tlsv1.3\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l tls-alpn -d 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l dry-run -d 'Only list the topics that hold a retained message; clear nothing'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l ws -d 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l tls-use-os-certs -d 'Turn TLS on and trust the system\'s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l insecure -d 'Do not check that the broker\'s certificate is for the host connected to (its chain is still verified)'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l no-tls -d 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand clean-retained" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l require -d 'Exit 14 unless this check is ok (repeatable): mqtt5, mqtt311, mqtt31, qos1, qos2, retain, wildcards, shared, topic-alias, keepalive, sys, will, max-packet' -r -f -a "mqtt5\t''
mqtt311\t''
mqtt31\t''
qos1\t''
qos2\t''
retain\t''
wildcards\t''
shared\t''
topic-alias\t''
keepalive\t''
sys\t''
will\t''
max-packet\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l max-size-cap -d 'The largest payload the max-packet search tries, in bytes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l samples -d 'Round trips timed per QoS' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s W -d 'Stop after this many seconds: the checks not done by then are reported as cut off' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s p -l port -d 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint\'s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l profile -d 'Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port, cafile, username, password_file, ...). Options and their environment variables override the profile\'s settings' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s P -l pw -d 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l pw-file -d 'Read the password from the first line of this file (the newline is not part of it)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s x -l session-expiry -d 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s D -l property -d 'MQTT 5: a property, as mosquitto\'s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l nodelay -d 'Send each packet at once (TCP_NODELAY): on by default (mosquitto\'s clients default to off). --nodelay=false lets the kernel gather small packets (Nagle\'s algorithm), which stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l ws-path -d 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l cafile -d 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l capath -d 'Turn TLS on and trust the PEM CA certificates of the files in this directory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l cert -d 'Client certificate (PEM) to present to the broker; needs --key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l key -d 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l tls-version -d 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]' -r -f -a "tlsv1.2\t''
tlsv1.3\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l tls-alpn -d 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l json -d 'Print one JSON object (its members under --help) instead of the table'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l ws -d 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l tls-use-os-certs -d 'Turn TLS on and trust the system\'s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l insecure -d 'Do not check that the broker\'s certificate is for the host connected to (its chain is still verified)'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l no-tls -d 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand probe" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l publishers -d 'Publishers (end to end and pub) [default: 1]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l subscribers -d 'Subscribers (end to end and sub) [default: 1]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l clients -d 'Clients: conn\'s connections [default: 10]; for pub and sub the same as --publishers or --subscribers' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l rate -d 'Open loop: this many messages per second in all, over every publisher (fractions allowed); without it, the closed loop of --inflight' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l size -d 'Message size in bytes, the 32-byte header included (32 or more) [default: 256]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s t -l topic -l topics -d 'Publishers\' topic; %i is the publisher\'s index [default: skeeter/bench/%i]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l sub-topic -d 'Subscribers\' filter; %i is the subscriber\'s index [default: -t with each level holding %i replaced by +]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l count -d 'Stop after this many messages per publisher (sub: per subscriber)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l duration -d 'Stop after this many seconds of publishing (sub: of subscribing; conn: hold the connections this long) [default: 10 s without --count; conn: 0]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l warmup -d 'Leave the first SECS out of the steady-state throughput and of the latency figures (they still count in the totals) [default: 0]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l conn-rate -d 'Connections opened per second while connecting (0: all at once) [default: 100, as emqtt-bench\'s and MQTTX\'s 10 ms interval]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s p -l port -d 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint\'s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l profile -d 'Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port, cafile, username, password_file, ...). Options and their environment variables override the profile\'s settings' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s P -l pw -d 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l pw-file -d 'Read the password from the first line of this file (the newline is not part of it)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s x -l session-expiry -d 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s D -l property -d 'MQTT 5: a property, as mosquitto\'s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l nodelay -d 'Send each packet at once (TCP_NODELAY): on by default (mosquitto\'s clients default to off). --nodelay=false lets the kernel gather small packets (Nagle\'s algorithm), which stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l ws-path -d 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l cafile -d 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l capath -d 'Turn TLS on and trust the PEM CA certificates of the files in this directory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l cert -d 'Client certificate (PEM) to present to the broker; needs --key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l key -d 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l tls-version -d 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]' -r -f -a "tlsv1.2\t''
tlsv1.3\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l tls-alpn -d 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s M -l inflight -d 'Each publisher\'s messages in flight: unacknowledged (QoS 1 and 2), or not yet written (QoS 0); with --rate, the most unacknowledged before a publisher falls behind its schedule. Lowered, with a note, to keep 256 MiB in flight at most' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l json -d 'Print the summary as one JSON object (its members under --help)'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l ws -d 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l tls-use-os-certs -d 'Turn TLS on and trust the system\'s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l insecure -d 'Do not check that the broker\'s certificate is for the host connected to (its chain is still verified)'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l no-tls -d 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand bench" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s p -l port -d 'Port to listen on (0 picks a free one; the bound address is printed)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l bind -d 'Address to listen on (0.0.0.0 or :: for every interface)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l log-file -d 'Append the log to FILE instead of writing it to stderr; SIGHUP reopens it (for logrotate)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l sys-interval -d 'Publish the $SYS/broker/... statistics (retained) every SECS seconds; 0: never [default: 10, or the -c file\'s sys_interval]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s c -l config-file -d 'Read the settings from a mosquitto.conf: listener, port, bind_address, protocol, certfile, keyfile, cafile, require_certificate, use_identity_as_username, password_file, acl_file, allow_anonymous, sys_interval, log_dest (stderr, stdout, file PATH, none), log_type, log_timestamp, log_timestamp_format, connection_messages, persistence, persistence_file, persistence_location, autosave_interval, max_connections, max_packet_size, max_queued_messages, max_queued_bytes, max_inflight_messages, message_size_limit, max_keepalive, comments. Any other directive, or a bad value, is an error naming its line (exit 2). Not with the options it replaces; -p and --bind count only when the file has no listener; a limit option (or its variable) wins over the same directive. SIGHUP reads the file again for the password file, the ACL and the logging settings (without -c: the --password-file and --acl-file, and --log-file is reopened)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l persistence-file -d 'Keep retained messages and persistent sessions (subscriptions, queued and in-flight QoS 1 and 2 messages) across restarts in FILE, a snapshot, and FILE.journal, where every change is written before the acknowledgement that depends on it: what a publisher saw acknowledged survives even kill -9 (not a power cut: the journal is not fsynced). An unusable file stops the start (exit 13). Without it the broker keeps everything in memory' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l autosave-interval -d 'With --persistence-file: rewrite the snapshot (emptying the journal) every SECS seconds; 0 only at start and at exit (SIGINT, SIGTERM), as mosquitto\'s autosave_interval. A journal past 64 MiB is folded in sooner' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l password-file -d 'Users and password hashes, as written by `skeeter passwd` or mosquitto_passwd: a client giving a user name must be there, with its password (else CONNACK 5, not authorised)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l acl-file -d 'mosquitto\'s ACL file: `topic [read|write|readwrite|deny] FILTER` lines (before any `user` line: anonymous clients\'), `user NAME` sections, `pattern ...` lines for everyone with %c (client id) and %u (user name). Anything not granted is denied: a publish without write access is acknowledged but dropped; read access is checked for each message delivered (subscriptions are always granted, as mosquitto does)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l allow-anonymous -d 'Whether clients without a user name may connect [default: true, but false with a password file; with -c, mosquitto\'s: false when the file defines a listener]. Refused ones get CONNACK 5 (not authorised)' -r -f -a "true\t''
false\t''"
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l tls-port -d 'Also listen for MQTT over TLS on this port, at --bind (0 picks a free one)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l ws-port -d 'Also listen for MQTT over WebSocket on this port, at --bind; any path (e.g. /mqtt)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l wss-port -d 'Also listen for MQTT over WebSocket over TLS on this port, at --bind' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l certfile -d 'PEM file with the server certificate chain (leaf first) for --tls-port and --wss-port' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l keyfile -d 'PEM file with the server\'s private key' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l cafile -d 'PEM file with the CA certificates that client certificates must chain to; TLS clients are asked for a certificate, and one that is sent must be valid' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l max-connections -d 'Connections at once, over all listeners, counted from the accept (0: no limit; mosquitto\'s -1). One more is answered CONNACK 0x97 (MQTT 5: quota exceeded) or 3 (server unavailable), then closed; mosquitto closes it unanswered, and counts per listener [default: 0]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l max-packet-size -d 'Largest packet a client may send, in bytes, fixed header included (0: no limit but MQTT\'s). A bigger one ends the connection, from its header alone (MQTT 5: DISCONNECT or CONNACK 0x95, packet too large); MQTT 5 clients are told it in the CONNACK [default: 0]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l max-queued-messages -d 'Messages waiting for one client (0: no limit); when full, QoS 0 ones are dropped first, then the new message, and counted [default: 0; mosquitto\'s is 1000, which drops messages under test loads]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l max-queued-bytes -d 'Bytes of messages waiting for one client (payload + topic + 16 each; 0: no limit); a message always fits in an empty queue; when full, as above [default: 268435456, 256 MiB; mosquitto\'s is 0]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l max-inflight-messages -d 'QoS 1 and 2 messages in flight to one client (0: no limit, 65535); MQTT 5 clients are told it as the receive maximum, for their QoS 2 messages to the broker [default: 100; mosquitto\'s is 20]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l message-size-limit -d 'Largest PUBLISH payload, in bytes (0: no limit). A bigger one is not delivered but its QoS flow completes (MQTT 5: PUBACK/PUBREC 0x95); a will that big refuses the CONNECT (CONNACK 0x95, or 5 before MQTT 5), as in mosquitto [default: 0]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l max-keepalive -d 'Largest keep alive a client may ask for, in seconds (0: no limit). An MQTT 5 client asking more, or 0, is told this one (server keep alive) and held to it; a 3.1.1 or 3.1 client asking more is refused with CONNACK 2 (identifier rejected), as mosquitto.conf(5) documents [default: 65535]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s v -l verbose -d 'Log every packet in and out too, not only connections, disconnections and refusals (mosquitto\'s -v)'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s q -l quiet -d 'Log errors only: no connections, disconnections or refusals'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l require-certificate -d 'Refuse TLS clients without a valid certificate'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l use-identity-as-username -d 'The client certificate\'s common name (CN) is the user name, in place of the CONNECT\'s'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand passwd" -s c -d 'Create the file (overwriting one that exists) with USER in it'
complete -c skeeter -n "__fish_skeeter_using_subcommand passwd" -s D -d 'Delete USER from the file'
complete -c skeeter -n "__fish_skeeter_using_subcommand passwd" -s U -d 'Hash a plain-text file of USER:PASSWORD lines in place (lines already hashed are kept)'
complete -c skeeter -n "__fish_skeeter_using_subcommand passwd" -s b -d 'Take the password from the command line instead of asking for it (argv is visible to other users)'
complete -c skeeter -n "__fish_skeeter_using_subcommand passwd" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand passwd" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand links" -s f -l force -d 'Replace links or files of the same name that already exist'
complete -c skeeter -n "__fish_skeeter_using_subcommand links" -s h -l help -d 'Print help'
complete -c skeeter -n "__fish_skeeter_using_subcommand links" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand generate" -s h -l help -d 'Print help'
complete -c skeeter -n "__fish_skeeter_using_subcommand generate" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "pub" -d 'Publish one message, a file, or one message per line of standard input'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "sub" -d 'Subscribe to topic filters and print the messages received'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "rr" -d 'Send a request and print its reply (MQTT 5 request/response, as mosquitto_rr)'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "run" -d 'Run a command (a cron job) and report its state, output and exit on MQTT'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "clean-retained" -d 'List or clear every retained message under a topic filter'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "probe" -d 'Report what a broker supports and how it behaves (versions, QoS, retain, limits, latency)'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "bench" -d 'Load a broker and measure it: publishers and subscribers end to end, or pub, sub or conn alone (throughput, latency percentiles, losses)'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "broker" -d 'Run the embedded MQTT broker'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "passwd" -d 'Manage a password file for `broker --password-file` (mosquitto_passwd\'s format and usage)'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "links" -d 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "generate" -d 'Write the shell completions and man pages (for packagers and this repository)'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub rr run clean-retained probe bench broker passwd links generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

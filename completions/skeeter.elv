
use builtin;
use str;

set edit:completion:arg-completer[skeeter] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'skeeter'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'skeeter'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand pub 'Publish one message, a file, or one message per line of standard input'
            cand sub 'Subscribe to topic filters and print the messages received'
            cand broker 'Run the embedded MQTT broker'
            cand passwd 'Manage a password file for `broker --password-file` (mosquitto_passwd''s format and usage)'
            cand links 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly'
            cand generate 'Write the shell completions and man pages (for packagers and this repository)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'skeeter;pub'= {
            cand -t 'Topic to publish to (no wildcards)'
            cand --topic 'Topic to publish to (no wildcards)'
            cand -m 'Send this message'
            cand --message 'Send this message'
            cand -f 'Send the whole file as one message (binary safe)'
            cand --file 'Send the whole file as one message (binary safe)'
            cand --repeat 'Send the message this many times (not with -l)'
            cand --repeat-delay 'Wait this long (fractions allowed) between the end of one publish and the next with --repeat'
            cand -h 'Broker host name or address [default: localhost]'
            cand --host 'Broker host name or address [default: localhost]'
            cand -p 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on'
            cand --port 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on'
            cand -L 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts'
            cand --url 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts'
            cand --unix 'Connect over this Unix domain socket instead of TCP'
            cand -o 'Read options from this file instead of the default options file (see OPTIONS FILES)'
            cand --options-file 'Read options from this file instead of the default options file (see OPTIONS FILES)'
            cand -i 'Client id [default: empty, the broker assigns one]'
            cand --id 'Client id [default: empty, the broker assigns one]'
            cand -I 'Client id made of this prefix and the process id, e.g. backup-4242'
            cand --id-prefix 'Client id made of this prefix and the process id, e.g. backup-4242'
            cand -k 'Keep-alive interval in seconds (0 turns keep-alive off)'
            cand --keepalive 'Keep-alive interval in seconds (0 turns keep-alive off)'
            cand -u 'User name to authenticate with'
            cand --username 'User name to authenticate with'
            cand -P 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD'
            cand --pw 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD'
            cand --pw-file 'Read the password from the first line of this file (the newline is not part of it)'
            cand -q 'Quality of service: 0 at most once, 1 at least once, 2 exactly once'
            cand --qos 'Quality of service: 0 at most once, 1 at least once, 2 exactly once'
            cand -V 'MQTT protocol version: 311 (or mqttv311), or 31 (or mqttv31) for old brokers'
            cand --protocol-version 'MQTT protocol version: 311 (or mqttv311), or 31 (or mqttv31) for old brokers'
            cand -M 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)'
            cand --max-inflight 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)'
            cand --will-topic 'Topic of the Last Will, published by the broker if this client vanishes'
            cand --will-payload 'Payload of the Last Will [default: empty]'
            cand --will-qos 'QoS of the Last Will'
            cand --proxy 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker''s host name'
            cand -A 'Connect from this local address (the outgoing socket is bound to it)'
            cand --bind-address 'Connect from this local address (the outgoing socket is bound to it)'
            cand --ws-path 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]'
            cand --cafile 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)'
            cand --capath 'Turn TLS on and trust the PEM CA certificates of the files in this directory'
            cand --cert 'Client certificate (PEM) to present to the broker; needs --key'
            cand --key 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert'
            cand --tls-version 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]'
            cand --tls-alpn 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)'
            cand -s 'Send all of standard input as one message (binary safe)'
            cand --stdin-file 'Send all of standard input as one message (binary safe)'
            cand -l 'Send each line of standard input as one message (the newline is not sent; an empty line sends an empty message; a line is held in memory whole, up to the MQTT limit of 256 MB)'
            cand --stdin-line 'Send each line of standard input as one message (the newline is not sent; an empty line sends an empty message; a line is held in memory whole, up to the MQTT limit of 256 MB)'
            cand -n 'Send an empty (zero-length) message'
            cand --null-message 'Send an empty (zero-length) message'
            cand -r 'Ask the broker to retain the message'
            cand --retain 'Ask the broker to retain the message'
            cand -c 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
            cand --disable-clean-session 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
            cand --will-retain 'Retain the Last Will'
            cand --nodelay 'Send each packet at once (TCP_NODELAY) instead of letting the kernel gather small ones'
            cand --ws 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
            cand --tls-use-os-certs 'Turn TLS on and trust the system''s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
            cand --insecure 'Do not check that the broker''s certificate is for the host connected to (its chain is still verified)'
            cand --no-tls 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
            cand -d 'Print a trace of the MQTT packets sent and received on stderr'
            cand --debug 'Print a trace of the MQTT packets sent and received on stderr'
            cand --quiet 'Do not print runtime errors or warnings (usage errors are still printed)'
            cand --help 'Print help (see more with ''--help'')'
            cand --version 'Print version'
        }
        &'skeeter;sub'= {
            cand -t 'Topic filter to subscribe to (repeatable; + and # wildcards)'
            cand --topic 'Topic filter to subscribe to (repeatable; + and # wildcards)'
            cand -T 'Do not print messages whose topic matches this filter (repeatable)'
            cand --filter-out 'Do not print messages whose topic matches this filter (repeatable)'
            cand -U 'Unsubscribe from this filter after subscribing (repeatable; with -c, edits a kept session)'
            cand --unsubscribe 'Unsubscribe from this filter after subscribing (repeatable; with -c, edits a kept session)'
            cand -C 'Exit after this many messages'
            cand -W 'Give up after this many seconds (exit 27, ''Timed out'' on stderr)'
            cand -F 'Print each message with this format (see FORMAT below); takes precedence over -v'
            cand --random-filter 'Print only this percentage of the messages, chosen at random (all are still counted by -C)'
            cand -h 'Broker host name or address [default: localhost]'
            cand --host 'Broker host name or address [default: localhost]'
            cand -p 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on'
            cand --port 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on'
            cand -L 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts'
            cand --url 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts'
            cand --unix 'Connect over this Unix domain socket instead of TCP'
            cand -o 'Read options from this file instead of the default options file (see OPTIONS FILES)'
            cand --options-file 'Read options from this file instead of the default options file (see OPTIONS FILES)'
            cand -i 'Client id [default: empty, the broker assigns one]'
            cand --id 'Client id [default: empty, the broker assigns one]'
            cand -I 'Client id made of this prefix and the process id, e.g. backup-4242'
            cand --id-prefix 'Client id made of this prefix and the process id, e.g. backup-4242'
            cand -k 'Keep-alive interval in seconds (0 turns keep-alive off)'
            cand --keepalive 'Keep-alive interval in seconds (0 turns keep-alive off)'
            cand -u 'User name to authenticate with'
            cand --username 'User name to authenticate with'
            cand -P 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD'
            cand --pw 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD'
            cand --pw-file 'Read the password from the first line of this file (the newline is not part of it)'
            cand -q 'Quality of service: 0 at most once, 1 at least once, 2 exactly once'
            cand --qos 'Quality of service: 0 at most once, 1 at least once, 2 exactly once'
            cand -V 'MQTT protocol version: 311 (or mqttv311), or 31 (or mqttv31) for old brokers'
            cand --protocol-version 'MQTT protocol version: 311 (or mqttv311), or 31 (or mqttv31) for old brokers'
            cand -M 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)'
            cand --max-inflight 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)'
            cand --will-topic 'Topic of the Last Will, published by the broker if this client vanishes'
            cand --will-payload 'Payload of the Last Will [default: empty]'
            cand --will-qos 'QoS of the Last Will'
            cand --proxy 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker''s host name'
            cand -A 'Connect from this local address (the outgoing socket is bound to it)'
            cand --bind-address 'Connect from this local address (the outgoing socket is bound to it)'
            cand --ws-path 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]'
            cand --cafile 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)'
            cand --capath 'Turn TLS on and trust the PEM CA certificates of the files in this directory'
            cand --cert 'Client certificate (PEM) to present to the broker; needs --key'
            cand --key 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert'
            cand --tls-version 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]'
            cand --tls-alpn 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)'
            cand -v 'Print the topic before each payload: ''topic payload'''
            cand --verbose 'Print the topic before each payload: ''topic payload'''
            cand -N 'Do not print a newline after each message'
            cand -R 'Do not print retained messages (those the broker held before we subscribed)'
            cand --retained-only 'Print only retained messages; exit at the first message that is not retained'
            cand -E 'Exit as soon as the subscriptions are acknowledged (with -c, sets up a kept session)'
            cand --pretty 'Indent the JSON of %j and %J'
            cand --remove-retained 'Clear every retained message received: publish an empty retained message to its topic'
            cand -c 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
            cand --disable-clean-session 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
            cand --will-retain 'Retain the Last Will'
            cand --nodelay 'Send each packet at once (TCP_NODELAY) instead of letting the kernel gather small ones'
            cand --ws 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same'
            cand --tls-use-os-certs 'Turn TLS on and trust the system''s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given'
            cand --insecure 'Do not check that the broker''s certificate is for the host connected to (its chain is still verified)'
            cand --no-tls 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)'
            cand -d 'Print a trace of the MQTT packets sent and received on stderr'
            cand --debug 'Print a trace of the MQTT packets sent and received on stderr'
            cand --quiet 'Do not print runtime errors or warnings (usage errors are still printed)'
            cand --help 'Print help (see more with ''--help'')'
            cand --version 'Print version'
        }
        &'skeeter;broker'= {
            cand -p 'Port to listen on (0 picks a free one; the bound address is printed)'
            cand --port 'Port to listen on (0 picks a free one; the bound address is printed)'
            cand --bind 'Address to listen on (0.0.0.0 or :: for every interface)'
            cand -c 'Read the listeners and authentication settings from a mosquitto.conf: listener, port, bind_address, protocol, certfile, keyfile, cafile, require_certificate, use_identity_as_username, password_file, acl_file, allow_anonymous, comments. Any other directive is an error. Not with the options it replaces; -p and --bind count only when the file has no listener'
            cand --config-file 'Read the listeners and authentication settings from a mosquitto.conf: listener, port, bind_address, protocol, certfile, keyfile, cafile, require_certificate, use_identity_as_username, password_file, acl_file, allow_anonymous, comments. Any other directive is an error. Not with the options it replaces; -p and --bind count only when the file has no listener'
            cand --password-file 'Users and password hashes, as written by `skeeter passwd` or mosquitto_passwd: a client giving a user name must be there, with its password (else CONNACK 5, not authorised)'
            cand --acl-file 'mosquitto''s ACL file: `topic [read|write|readwrite|deny] FILTER` lines (before any `user` line: anonymous clients''), `user NAME` sections, `pattern ...` lines for everyone with %c (client id) and %u (user name). Anything not granted is denied: a publish without write access is acknowledged but dropped; read access is checked for each message delivered (subscriptions are always granted, as mosquitto does)'
            cand --allow-anonymous 'Whether clients without a user name may connect [default: true, but false with a password file; with -c, mosquitto''s: false when the file defines a listener]. Refused ones get CONNACK 5 (not authorised)'
            cand --tls-port 'Also listen for MQTT over TLS on this port, at --bind (0 picks a free one)'
            cand --ws-port 'Also listen for MQTT over WebSocket on this port, at --bind; any path (e.g. /mqtt)'
            cand --wss-port 'Also listen for MQTT over WebSocket over TLS on this port, at --bind'
            cand --certfile 'PEM file with the server certificate chain (leaf first) for --tls-port and --wss-port'
            cand --keyfile 'PEM file with the server''s private key'
            cand --cafile 'PEM file with the CA certificates that client certificates must chain to; TLS clients are asked for a certificate, and one that is sent must be valid'
            cand -v 'Log connections and disconnections on stderr'
            cand --verbose 'Log connections and disconnections on stderr'
            cand --require-certificate 'Refuse TLS clients without a valid certificate'
            cand --use-identity-as-username 'The client certificate''s common name (CN) is the user name, in place of the CONNECT''s'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'skeeter;passwd'= {
            cand -c 'Create the file (overwriting one that exists) with USER in it'
            cand -D 'Delete USER from the file'
            cand -U 'Hash a plain-text file of USER:PASSWORD lines in place (lines already hashed are kept)'
            cand -b 'Take the password from the command line instead of asking for it (argv is visible to other users)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'skeeter;links'= {
            cand -f 'Replace links or files of the same name that already exist'
            cand --force 'Replace links or files of the same name that already exist'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'skeeter;generate'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'skeeter;help'= {
            cand pub 'Publish one message, a file, or one message per line of standard input'
            cand sub 'Subscribe to topic filters and print the messages received'
            cand broker 'Run the embedded MQTT broker'
            cand passwd 'Manage a password file for `broker --password-file` (mosquitto_passwd''s format and usage)'
            cand links 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly'
            cand generate 'Write the shell completions and man pages (for packagers and this repository)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'skeeter;help;pub'= {
        }
        &'skeeter;help;sub'= {
        }
        &'skeeter;help;broker'= {
        }
        &'skeeter;help;passwd'= {
        }
        &'skeeter;help;links'= {
        }
        &'skeeter;help;generate'= {
        }
        &'skeeter;help;help'= {
        }
    ]
    $completions[$command]
}

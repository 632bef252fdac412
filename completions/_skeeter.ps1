
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'skeeter' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'skeeter'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'skeeter' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('pub', 'pub', [CompletionResultType]::ParameterValue, 'Publish one message, a file, or one message per line of standard input')
            [CompletionResult]::new('sub', 'sub', [CompletionResultType]::ParameterValue, 'Subscribe to topic filters and print the messages received')
            [CompletionResult]::new('rr', 'rr', [CompletionResultType]::ParameterValue, 'Send a request and print its reply (MQTT 5 request/response, as mosquitto_rr)')
            [CompletionResult]::new('broker', 'broker', [CompletionResultType]::ParameterValue, 'Run the embedded MQTT broker')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Manage a password file for `broker --password-file` (mosquitto_passwd''s format and usage)')
            [CompletionResult]::new('links', 'links', [CompletionResultType]::ParameterValue, 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write the shell completions and man pages (for packagers and this repository)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'skeeter;pub' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic to publish to (no wildcards)')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic to publish to (no wildcards)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Send this message')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'Send this message')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Send the whole file as one message (binary safe)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send the whole file as one message (binary safe)')
            [CompletionResult]::new('--repeat', '--repeat', [CompletionResultType]::ParameterName, 'Send the message this many times (not with -l)')
            [CompletionResult]::new('--repeat-delay', '--repeat-delay', [CompletionResultType]::ParameterName, 'Wait this long (fractions allowed) between the end of one publish and the next with --repeat')
            [CompletionResult]::new('--content-type', '--content-type', [CompletionResultType]::ParameterName, 'The content type of the message (e.g. application/json)')
            [CompletionResult]::new('--message-expiry', '--message-expiry', [CompletionResultType]::ParameterName, 'The broker drops the message if not delivered within this many seconds')
            [CompletionResult]::new('--response-topic', '--response-topic', [CompletionResultType]::ParameterName, 'The topic a receiver should reply to (no wildcards)')
            [CompletionResult]::new('--correlation-data', '--correlation-data', [CompletionResultType]::ParameterName, 'Data for the receiver to return with its reply (sent as given)')
            [CompletionResult]::new('--user-property', '--user-property', [CompletionResultType]::ParameterName, 'A user property of the message (repeatable; order and duplicates kept)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host name or address [default: localhost]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host name or address [default: localhost]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Connect over this Unix domain socket instead of TCP')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Read options from this file instead of the default options file (see OPTIONS FILES)')
            [CompletionResult]::new('--options-file', '--options-file', [CompletionResultType]::ParameterName, 'Read options from this file instead of the default options file (see OPTIONS FILES)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: empty, the broker assigns one]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: empty, the broker assigns one]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id made of this prefix and the process id, e.g. backup-4242')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id made of this prefix and the process id, e.g. backup-4242')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (0 turns keep-alive off)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (0 turns keep-alive off)')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name to authenticate with')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name to authenticate with')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD')
            [CompletionResult]::new('--pw-file', '--pw-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of this file (the newline is not part of it)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Quality of service: 0 at most once, 1 at least once, 2 exactly once')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'Quality of service: 0 at most once, 1 at least once, 2 exactly once')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]')
            [CompletionResult]::new('--session-expiry', '--session-expiry', [CompletionResultType]::ParameterName, 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT 5: a property, as mosquitto''s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT 5: a property, as mosquitto''s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5')
            [CompletionResult]::new('-M', '-M ', [CompletionResultType]::ParameterName, 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)')
            [CompletionResult]::new('--max-inflight', '--max-inflight', [CompletionResultType]::ParameterName, 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Topic of the Last Will, published by the broker if this client vanishes')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Payload of the Last Will [default: empty]')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'QoS of the Last Will')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker''s host name')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Connect from this local address (the outgoing socket is bound to it)')
            [CompletionResult]::new('--bind-address', '--bind-address', [CompletionResultType]::ParameterName, 'Connect from this local address (the outgoing socket is bound to it)')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the PEM CA certificates of the files in this directory')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM) to present to the broker; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Send all of standard input as one message (binary safe)')
            [CompletionResult]::new('--stdin-file', '--stdin-file', [CompletionResultType]::ParameterName, 'Send all of standard input as one message (binary safe)')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Send each line of standard input as one message (the newline is not sent; an empty line sends an empty message; a line is held in memory whole, up to the MQTT limit of 256 MB)')
            [CompletionResult]::new('--stdin-line', '--stdin-line', [CompletionResultType]::ParameterName, 'Send each line of standard input as one message (the newline is not sent; an empty line sends an empty message; a line is held in memory whole, up to the MQTT limit of 256 MB)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Send an empty (zero-length) message')
            [CompletionResult]::new('--null-message', '--null-message', [CompletionResultType]::ParameterName, 'Send an empty (zero-length) message')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Ask the broker to retain the message')
            [CompletionResult]::new('--retain', '--retain', [CompletionResultType]::ParameterName, 'Ask the broker to retain the message')
            [CompletionResult]::new('--payload-is-utf8', '--payload-is-utf8', [CompletionResultType]::ParameterName, 'Mark the payload as UTF-8 text (payload format indicator 1)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Last Will')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Send each packet at once (TCP_NODELAY) instead of letting the kernel gather small ones')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the system''s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check that the broker''s certificate is for the host connected to (its chain is still verified)')
            [CompletionResult]::new('--no-tls', '--no-tls', [CompletionResultType]::ParameterName, 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets sent and received on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets sent and received on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Do not print runtime errors or warnings (usage errors are still printed)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'skeeter;sub' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic filter to subscribe to (repeatable; + and # wildcards)')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic filter to subscribe to (repeatable; + and # wildcards)')
            [CompletionResult]::new('-T', '-T ', [CompletionResultType]::ParameterName, 'Do not print messages whose topic matches this filter (repeatable)')
            [CompletionResult]::new('--filter-out', '--filter-out', [CompletionResultType]::ParameterName, 'Do not print messages whose topic matches this filter (repeatable)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Unsubscribe from this filter after subscribing (repeatable; with -c, edits a kept session)')
            [CompletionResult]::new('--unsubscribe', '--unsubscribe', [CompletionResultType]::ParameterName, 'Unsubscribe from this filter after subscribing (repeatable; with -c, edits a kept session)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Exit after this many messages')
            [CompletionResult]::new('-W', '-W ', [CompletionResultType]::ParameterName, 'Give up after this many seconds (exit 27, ''Timed out'' on stderr)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Print each message with this format (see FORMAT below); takes precedence over -v')
            [CompletionResult]::new('--random-filter', '--random-filter', [CompletionResultType]::ParameterName, 'Print only this percentage of the messages, chosen at random (all are still counted by -C)')
            [CompletionResult]::new('--retain-handling', '--retain-handling', [CompletionResultType]::ParameterName, 'Retained messages on subscribing: 0 always, 1 only for a new subscription, 2 never [default: 0; 2 with -R]')
            [CompletionResult]::new('--subscription-id', '--subscription-id', [CompletionResultType]::ParameterName, 'Give the subscriptions this identifier; messages show it as %S (1 to 268435455)')
            [CompletionResult]::new('--user-property', '--user-property', [CompletionResultType]::ParameterName, 'A user property of the SUBSCRIBE (repeatable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host name or address [default: localhost]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host name or address [default: localhost]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Connect over this Unix domain socket instead of TCP')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Read options from this file instead of the default options file (see OPTIONS FILES)')
            [CompletionResult]::new('--options-file', '--options-file', [CompletionResultType]::ParameterName, 'Read options from this file instead of the default options file (see OPTIONS FILES)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: empty, the broker assigns one]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: empty, the broker assigns one]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id made of this prefix and the process id, e.g. backup-4242')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id made of this prefix and the process id, e.g. backup-4242')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (0 turns keep-alive off)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (0 turns keep-alive off)')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name to authenticate with')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name to authenticate with')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD')
            [CompletionResult]::new('--pw-file', '--pw-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of this file (the newline is not part of it)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Quality of service: 0 at most once, 1 at least once, 2 exactly once')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'Quality of service: 0 at most once, 1 at least once, 2 exactly once')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]')
            [CompletionResult]::new('--session-expiry', '--session-expiry', [CompletionResultType]::ParameterName, 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT 5: a property, as mosquitto''s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT 5: a property, as mosquitto''s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5')
            [CompletionResult]::new('-M', '-M ', [CompletionResultType]::ParameterName, 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)')
            [CompletionResult]::new('--max-inflight', '--max-inflight', [CompletionResultType]::ParameterName, 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Topic of the Last Will, published by the broker if this client vanishes')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Payload of the Last Will [default: empty]')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'QoS of the Last Will')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker''s host name')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Connect from this local address (the outgoing socket is bound to it)')
            [CompletionResult]::new('--bind-address', '--bind-address', [CompletionResultType]::ParameterName, 'Connect from this local address (the outgoing socket is bound to it)')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the PEM CA certificates of the files in this directory')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM) to present to the broker; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the topic before each payload: ''topic payload''')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the topic before each payload: ''topic payload''')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Do not print a newline after each message')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'Do not print retained messages (those the broker held before we subscribed)')
            [CompletionResult]::new('--retained-only', '--retained-only', [CompletionResultType]::ParameterName, 'Print only retained messages; exit at the first message that is not retained')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit as soon as the subscriptions are acknowledged (with -c, sets up a kept session)')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Indent the JSON of %j and %J')
            [CompletionResult]::new('--remove-retained', '--remove-retained', [CompletionResultType]::ParameterName, 'Clear every retained message received: publish an empty retained message to its topic')
            [CompletionResult]::new('--no-local', '--no-local', [CompletionResultType]::ParameterName, 'Do not receive the messages this connection publishes itself (subscription option)')
            [CompletionResult]::new('--retain-as-published', '--retain-as-published', [CompletionResultType]::ParameterName, 'Keep the retain flag of messages as published, not only for retained ones sent on subscribing (subscription option)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Last Will')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Send each packet at once (TCP_NODELAY) instead of letting the kernel gather small ones')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the system''s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check that the broker''s certificate is for the host connected to (its chain is still verified)')
            [CompletionResult]::new('--no-tls', '--no-tls', [CompletionResultType]::ParameterName, 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets sent and received on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets sent and received on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Do not print runtime errors or warnings (usage errors are still printed)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'skeeter;rr' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic to send the request to (no wildcards)')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic to send the request to (no wildcards)')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Topic the reply is expected on: subscribed to, and sent as the response topic')
            [CompletionResult]::new('--response-topic', '--response-topic', [CompletionResultType]::ParameterName, 'Topic the reply is expected on: subscribed to, and sent as the response topic')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Send this message')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'Send this message')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Send the whole file as one message (binary safe)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send the whole file as one message (binary safe)')
            [CompletionResult]::new('-W', '-W ', [CompletionResultType]::ParameterName, 'Give up after this many seconds (exit 27, ''Timed out'' on stderr)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Print the reply with this format (see FORMAT below); takes precedence over -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host name or address [default: localhost]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host name or address [default: localhost]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for WebSockets (the path is the endpoint''s, not a topic). -h, -p, -u, -P and -t given as well take precedence over its parts')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Connect over this Unix domain socket instead of TCP')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Read options from this file instead of the default options file (see OPTIONS FILES)')
            [CompletionResult]::new('--options-file', '--options-file', [CompletionResultType]::ParameterName, 'Read options from this file instead of the default options file (see OPTIONS FILES)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: empty, the broker assigns one]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: empty, the broker assigns one]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id made of this prefix and the process id, e.g. backup-4242')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id made of this prefix and the process id, e.g. backup-4242')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (0 turns keep-alive off)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep-alive interval in seconds (0 turns keep-alive off)')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name to authenticate with')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name to authenticate with')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password to authenticate with. Without a value, it is asked for on the terminal (not echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD')
            [CompletionResult]::new('--pw-file', '--pw-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of this file (the newline is not part of it)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Quality of service: 0 at most once, 1 at least once, 2 exactly once')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'Quality of service: 0 at most once, 1 at least once, 2 exactly once')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]')
            [CompletionResult]::new('--session-expiry', '--session-expiry', [CompletionResultType]::ParameterName, 'MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default: 0; forever with -c]')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT 5: a property, as mosquitto''s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT 5: a property, as mosquitto''s -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect')
            [CompletionResult]::new('-M', '-M ', [CompletionResultType]::ParameterName, 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)')
            [CompletionResult]::new('--max-inflight', '--max-inflight', [CompletionResultType]::ParameterName, 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Topic of the Last Will, published by the broker if this client vanishes')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Payload of the Last Will [default: empty]')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'QoS of the Last Will')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker''s host name')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Connect from this local address (the outgoing socket is bound to it)')
            [CompletionResult]::new('--bind-address', '--bind-address', [CompletionResultType]::ParameterName, 'Connect from this local address (the outgoing socket is bound to it)')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt]')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the CA certificates of this PEM file (default port 8883)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the PEM CA certificates of the files in this directory')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM) to present to the broker; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'Speak only this TLS version [default: tlsv1.2 or tlsv1.3]')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca)')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x, --content-type, --no-local, ...) need -V 5')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Send all of standard input as one message (binary safe)')
            [CompletionResult]::new('--stdin-file', '--stdin-file', [CompletionResultType]::ParameterName, 'Send all of standard input as one message (binary safe)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Send an empty (zero-length) message')
            [CompletionResult]::new('--null-message', '--null-message', [CompletionResultType]::ParameterName, 'Send an empty (zero-length) message')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the topic before the reply: ''topic payload''')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the topic before the reply: ''topic payload''')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Do not print a newline after the reply')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Indent the JSON of %j and %J')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Last Will')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Send each packet at once (TCP_NODELAY) instead of letting the kernel gather small ones')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS) unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Turn TLS on and trust the system''s CA certificates (also with --cafile or --capath). They are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check that the broker''s certificate is for the host connected to (its chain is still verified)')
            [CompletionResult]::new('--no-tls', '--no-tls', [CompletionResultType]::ParameterName, 'No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an options file, or for plain MQTT on port 8883)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets sent and received on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets sent and received on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Do not print runtime errors or warnings (usage errors are still printed)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'skeeter;broker' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one; the bound address is printed)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one; the bound address is printed)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to listen on (0.0.0.0 or :: for every interface)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Read the listeners, authentication settings and limits from a mosquitto.conf: listener, port, bind_address, protocol, certfile, keyfile, cafile, require_certificate, use_identity_as_username, password_file, acl_file, allow_anonymous, max_connections, max_packet_size, max_queued_messages, max_queued_bytes, max_inflight_messages, message_size_limit, max_keepalive, comments. Any other directive, or a bad value, is an error naming its line (exit 2). Not with the options it replaces; -p and --bind count only when the file has no listener; a limit option (or its variable) wins over the same directive')
            [CompletionResult]::new('--config-file', '--config-file', [CompletionResultType]::ParameterName, 'Read the listeners, authentication settings and limits from a mosquitto.conf: listener, port, bind_address, protocol, certfile, keyfile, cafile, require_certificate, use_identity_as_username, password_file, acl_file, allow_anonymous, max_connections, max_packet_size, max_queued_messages, max_queued_bytes, max_inflight_messages, message_size_limit, max_keepalive, comments. Any other directive, or a bad value, is an error naming its line (exit 2). Not with the options it replaces; -p and --bind count only when the file has no listener; a limit option (or its variable) wins over the same directive')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Users and password hashes, as written by `skeeter passwd` or mosquitto_passwd: a client giving a user name must be there, with its password (else CONNACK 5, not authorised)')
            [CompletionResult]::new('--acl-file', '--acl-file', [CompletionResultType]::ParameterName, 'mosquitto''s ACL file: `topic [read|write|readwrite|deny] FILTER` lines (before any `user` line: anonymous clients''), `user NAME` sections, `pattern ...` lines for everyone with %c (client id) and %u (user name). Anything not granted is denied: a publish without write access is acknowledged but dropped; read access is checked for each message delivered (subscriptions are always granted, as mosquitto does)')
            [CompletionResult]::new('--allow-anonymous', '--allow-anonymous', [CompletionResultType]::ParameterName, 'Whether clients without a user name may connect [default: true, but false with a password file; with -c, mosquitto''s: false when the file defines a listener]. Refused ones get CONNACK 5 (not authorised)')
            [CompletionResult]::new('--tls-port', '--tls-port', [CompletionResultType]::ParameterName, 'Also listen for MQTT over TLS on this port, at --bind (0 picks a free one)')
            [CompletionResult]::new('--ws-port', '--ws-port', [CompletionResultType]::ParameterName, 'Also listen for MQTT over WebSocket on this port, at --bind; any path (e.g. /mqtt)')
            [CompletionResult]::new('--wss-port', '--wss-port', [CompletionResultType]::ParameterName, 'Also listen for MQTT over WebSocket over TLS on this port, at --bind')
            [CompletionResult]::new('--certfile', '--certfile', [CompletionResultType]::ParameterName, 'PEM file with the server certificate chain (leaf first) for --tls-port and --wss-port')
            [CompletionResult]::new('--keyfile', '--keyfile', [CompletionResultType]::ParameterName, 'PEM file with the server''s private key')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'PEM file with the CA certificates that client certificates must chain to; TLS clients are asked for a certificate, and one that is sent must be valid')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Connections at once, over all listeners, counted from the accept (0: no limit; mosquitto''s -1). One more is answered CONNACK 0x97 (MQTT 5: quota exceeded) or 3 (server unavailable), then closed; mosquitto closes it unanswered, and counts per listener [default: 0]')
            [CompletionResult]::new('--max-packet-size', '--max-packet-size', [CompletionResultType]::ParameterName, 'Largest packet a client may send, in bytes, fixed header included (0: no limit but MQTT''s). A bigger one ends the connection, from its header alone (MQTT 5: DISCONNECT or CONNACK 0x95, packet too large); MQTT 5 clients are told it in the CONNACK [default: 0]')
            [CompletionResult]::new('--max-queued-messages', '--max-queued-messages', [CompletionResultType]::ParameterName, 'Messages waiting for one client (0: no limit); when full, QoS 0 ones are dropped first, then the new message, and counted [default: 0; mosquitto''s is 1000, which drops messages under test loads]')
            [CompletionResult]::new('--max-queued-bytes', '--max-queued-bytes', [CompletionResultType]::ParameterName, 'Bytes of messages waiting for one client (payload + topic + 16 each; 0: no limit); a message always fits in an empty queue; when full, as above [default: 268435456, 256 MiB; mosquitto''s is 0]')
            [CompletionResult]::new('--max-inflight-messages', '--max-inflight-messages', [CompletionResultType]::ParameterName, 'QoS 1 and 2 messages in flight to one client (0: no limit, 65535); MQTT 5 clients are told it as the receive maximum, for their QoS 2 messages to the broker [default: 100; mosquitto''s is 20]')
            [CompletionResult]::new('--message-size-limit', '--message-size-limit', [CompletionResultType]::ParameterName, 'Largest PUBLISH payload, in bytes (0: no limit). A bigger one is not delivered but its QoS flow completes (MQTT 5: PUBACK/PUBREC 0x95); a will that big refuses the CONNECT (CONNACK 0x95, or 5 before MQTT 5), as in mosquitto [default: 0]')
            [CompletionResult]::new('--max-keepalive', '--max-keepalive', [CompletionResultType]::ParameterName, 'Largest keep alive a client may ask for, in seconds (0: no limit). An MQTT 5 client asking more, or 0, is told this one (server keep alive) and held to it; a 3.1.1 or 3.1 client asking more is refused with CONNACK 2 (identifier rejected), as mosquitto.conf(5) documents [default: 65535]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log connections and disconnections on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log connections and disconnections on stderr')
            [CompletionResult]::new('--require-certificate', '--require-certificate', [CompletionResultType]::ParameterName, 'Refuse TLS clients without a valid certificate')
            [CompletionResult]::new('--use-identity-as-username', '--use-identity-as-username', [CompletionResultType]::ParameterName, 'The client certificate''s common name (CN) is the user name, in place of the CONNECT''s')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'skeeter;passwd' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Create the file (overwriting one that exists) with USER in it')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Delete USER from the file')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Hash a plain-text file of USER:PASSWORD lines in place (lines already hashed are kept)')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Take the password from the command line instead of asking for it (argv is visible to other users)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'skeeter;links' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Replace links or files of the same name that already exist')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace links or files of the same name that already exist')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'skeeter;generate' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'skeeter;help' {
            [CompletionResult]::new('pub', 'pub', [CompletionResultType]::ParameterValue, 'Publish one message, a file, or one message per line of standard input')
            [CompletionResult]::new('sub', 'sub', [CompletionResultType]::ParameterValue, 'Subscribe to topic filters and print the messages received')
            [CompletionResult]::new('rr', 'rr', [CompletionResultType]::ParameterValue, 'Send a request and print its reply (MQTT 5 request/response, as mosquitto_rr)')
            [CompletionResult]::new('broker', 'broker', [CompletionResultType]::ParameterValue, 'Run the embedded MQTT broker')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Manage a password file for `broker --password-file` (mosquitto_passwd''s format and usage)')
            [CompletionResult]::new('links', 'links', [CompletionResultType]::ParameterValue, 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write the shell completions and man pages (for packagers and this repository)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'skeeter;help;pub' {
            break
        }
        'skeeter;help;sub' {
            break
        }
        'skeeter;help;rr' {
            break
        }
        'skeeter;help;broker' {
            break
        }
        'skeeter;help;passwd' {
            break
        }
        'skeeter;help;links' {
            break
        }
        'skeeter;help;generate' {
            break
        }
        'skeeter;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}

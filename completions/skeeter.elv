
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
            cand -p 'Broker port [default: 1883]'
            cand --port 'Broker port [default: 1883]'
            cand -L 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); -h, -p, -u, -P and -t given as well take precedence over its parts'
            cand --url 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); -h, -p, -u, -P and -t given as well take precedence over its parts'
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
            cand -P 'Password to authenticate with (prefer SKEETER_PASSWORD: argv is visible to other users)'
            cand --pw 'Password to authenticate with (prefer SKEETER_PASSWORD: argv is visible to other users)'
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
            cand -p 'Broker port [default: 1883]'
            cand --port 'Broker port [default: 1883]'
            cand -L 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); -h, -p, -u, -P and -t given as well take precedence over its parts'
            cand --url 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); -h, -p, -u, -P and -t given as well take precedence over its parts'
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
            cand -P 'Password to authenticate with (prefer SKEETER_PASSWORD: argv is visible to other users)'
            cand --pw 'Password to authenticate with (prefer SKEETER_PASSWORD: argv is visible to other users)'
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
            cand -v 'Log connections and disconnections on stderr'
            cand --verbose 'Log connections and disconnections on stderr'
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
        &'skeeter;help;links'= {
        }
        &'skeeter;help;generate'= {
        }
        &'skeeter;help;help'= {
        }
    ]
    $completions[$command]
}

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
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "broker" -d 'Run the embedded MQTT broker'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "links" -d 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "generate" -d 'Write the shell completions and man pages (for packagers and this repository)'
complete -c skeeter -n "__fish_skeeter_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s t -l topic -d 'Topic to publish to (no wildcards)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s m -l message -d 'Send this message' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s f -l file -d 'Send the whole file as one message (binary safe)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l repeat -d 'Send the message this many times (not with -l)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l repeat-delay -d 'Wait this long (fractions allowed) between the end of one publish and the next with --repeat' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s p -l port -d 'Broker port [default: 1883]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s P -l pw -d 'Password to authenticate with (prefer SKEETER_PASSWORD: argv is visible to other users)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), or 31 (or mqttv31) for old brokers' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s s -l stdin-file -d 'Send all of standard input as one message (binary safe)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s l -l stdin-line -d 'Send each line of standard input as one message (the newline is not sent; an empty line sends an empty message; a line is held in memory whole, up to the MQTT limit of 256 MB)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s n -l null-message -d 'Send an empty (zero-length) message'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s r -l retain -d 'Ask the broker to retain the message'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand pub" -l nodelay -d 'Send each packet at once (TCP_NODELAY) instead of letting the kernel gather small ones'
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
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s h -l host -d 'Broker host name or address [default: localhost]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s p -l port -d 'Broker port [default: 1883]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s L -l url -d 'Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]); -h, -p, -u, -P and -t given as well take precedence over its parts' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l unix -d 'Connect over this Unix domain socket instead of TCP' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s o -l options-file -d 'Read options from this file instead of the default options file (see OPTIONS FILES)' -r -F
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s i -l id -d 'Client id [default: empty, the broker assigns one]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s I -l id-prefix -d 'Client id made of this prefix and the process id, e.g. backup-4242' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s k -l keepalive -d 'Keep-alive interval in seconds (0 turns keep-alive off)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s u -l username -d 'User name to authenticate with' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s P -l pw -d 'Password to authenticate with (prefer SKEETER_PASSWORD: argv is visible to other users)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s q -l qos -d 'Quality of service: 0 at most once, 1 at least once, 2 exactly once' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s V -l protocol-version -d 'MQTT protocol version: 311 (or mqttv311), or 31 (or mqttv31) for old brokers' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s M -l max-inflight -d 'Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-topic -d 'Topic of the Last Will, published by the broker if this client vanishes' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-payload -d 'Payload of the Last Will [default: empty]' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-qos -d 'QoS of the Last Will' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l proxy -d 'Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080; user and password percent-encoded). The proxy resolves the broker\'s host name' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s A -l bind-address -d 'Connect from this local address (the outgoing socket is bound to it)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s v -l verbose -d 'Print the topic before each payload: \'topic payload\''
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s N -d 'Do not print a newline after each message'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s R -d 'Do not print retained messages (those the broker held before we subscribed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l retained-only -d 'Print only retained messages; exit at the first message that is not retained'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s E -d 'Exit as soon as the subscriptions are acknowledged (with -c, sets up a kept session)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l pretty -d 'Indent the JSON of %j and %J'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l remove-retained -d 'Clear every retained message received: publish an empty retained message to its topic'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s c -l disable-clean-session -d 'Keep the session on the broker after disconnecting (clean session off; needs -i or -I)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l will-retain -d 'Retain the Last Will'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l nodelay -d 'Send each packet at once (TCP_NODELAY) instead of letting the kernel gather small ones'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -s d -l debug -d 'Print a trace of the MQTT packets sent and received on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l quiet -d 'Do not print runtime errors or warnings (usage errors are still printed)'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand sub" -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s p -l port -d 'Port to listen on (0 picks a free one; the bound address is printed)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -l bind -d 'Address to listen on (0.0.0.0 or :: for every interface)' -r
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s v -l verbose -d 'Log connections and disconnections on stderr'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c skeeter -n "__fish_skeeter_using_subcommand broker" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand links" -s f -l force -d 'Replace links or files of the same name that already exist'
complete -c skeeter -n "__fish_skeeter_using_subcommand links" -s h -l help -d 'Print help'
complete -c skeeter -n "__fish_skeeter_using_subcommand links" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand generate" -s h -l help -d 'Print help'
complete -c skeeter -n "__fish_skeeter_using_subcommand generate" -s V -l version -d 'Print version'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub broker links generate help" -f -a "pub" -d 'Publish one message, a file, or one message per line of standard input'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub broker links generate help" -f -a "sub" -d 'Subscribe to topic filters and print the messages received'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub broker links generate help" -f -a "broker" -d 'Run the embedded MQTT broker'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub broker links generate help" -f -a "links" -d 'Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub broker links generate help" -f -a "generate" -d 'Write the shell completions and man pages (for packagers and this repository)'
complete -c skeeter -n "__fish_skeeter_using_subcommand help; and not __fish_seen_subcommand_from pub sub broker links generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

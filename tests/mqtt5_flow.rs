//! MQTT 5 flow control of the embedded broker, seen by paho-mqtt (tests/interop/paho_v5_flow.py):
//! a client's receive maximum is respected, and exceeding the broker's own with QoS 2 ends in
//! DISCONNECT 0x93.

mod common;

#[test]
fn paho_v5_receive_maximum_both_ways() {
    if !common::have_paho() {
        return;
    }
    let broker = common::TestBroker::start();
    let output = common::run_python("paho_v5_flow.py", &[&broker.port_arg()]);
    let stdout = common::text(&output.stdout);
    assert!(
        output.status.success()
            && stdout.contains("ok receive-maximum")
            && stdout.contains("ok qos2-excess"),
        "paho v5 flow checks failed\nstdout:\n{stdout}\nstderr:\n{}",
        common::text(&output.stderr)
    );
}

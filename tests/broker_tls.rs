//! The broker's TLS and WebSocket listeners: mosquitto's clients over TLS 1.2 and 1.3 (with and
//! without client certificates), paho over ws and wss, raw MQTT over each transport, a stalled
//! TLS handshake that must not block anyone else, and the `skeeter broker` command line.
//! Certificates come from tests/common/pki.rs: a CA, a server certificate for localhost and
//! 127.0.0.1, a client certificate (CN sensor-1), and a client certificate from another CA.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Packet, Publish, Subscribe};
use rumqttc::mqttbytes::{self, Protocol, QoS};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use skeeter::broker::{BackgroundBroker, Broker, Config, Tls};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use ws_stream_tungstenite::WsStream;

use common::pki::Pki;
use common::{SkeeterBroker, have, have_paho, run_python, skeeter_broker};

/// The longest any single expected event may take.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Certificates

/// The certificates of tests/common/pki.rs, with `client.pem`/`.key` made again with CN
/// sensor-1 and `stranger.pem`/`.key`, a client certificate from the other CA.
fn new_pki() -> Pki {
    let pki = Pki::new();
    pki.client("client", "sensor-1");
    pki.other_client("stranger", "stranger");
    pki
}

/// The broker's and rustls's views of those certificates.
trait BrokerPki {
    fn server(&self) -> Tls;
    fn server_requiring_certificates(&self) -> Tls;
    fn connector(&self, with_cert: bool) -> tokio_rustls::TlsConnector;
}

impl BrokerPki for Pki {
    /// The server side: certificate and key, no client certificates asked for.
    fn server(&self) -> Tls {
        Tls {
            certfile: self.path("server.pem"),
            keyfile: self.path("server.key"),
            ..Tls::default()
        }
    }

    /// The server side, refusing clients without a certificate from the CA.
    fn server_requiring_certificates(&self) -> Tls {
        Tls {
            cafile: Some(self.path("ca.pem")),
            require_certificate: true,
            ..self.server()
        }
    }

    /// A rustls client that trusts the CA, with the client certificate when `with_cert`.
    fn connector(&self, with_cert: bool) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_cert {
            let certs = CertificateDer::pem_file_iter(self.path("client.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

// ---------------------------------------------------------------------------------------------
// Brokers

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Plain, TLS, ws and wss listeners on free ports, with the given TLS side.
fn config(tls: Tls) -> Config {
    Config {
        bind: local(),
        tls_bind: Some(local()),
        websocket_bind: Some(local()),
        websocket_tls_bind: Some(local()),
        tls: Some(tls),
        ..Config::default()
    }
}

fn wait_for_subscriptions(broker: &BackgroundBroker, count: usize) {
    let deadline = Instant::now() + WAIT;
    while broker.subscriptions() < count {
        assert!(Instant::now() < deadline, "the subscriber never subscribed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// A raw MQTT 3.1.1 client over any byte stream

struct Raw<S> {
    stream: S,
    buf: BytesMut,
}

fn connect_packet(client_id: &str) -> Packet {
    Packet::Connect(Connect {
        protocol: Protocol::V4,
        keep_alive: 60,
        client_id: client_id.into(),
        clean_session: true,
        last_will: None,
        login: None,
    })
}

fn encode(packet: Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    packet.write(&mut out, usize::MAX).unwrap();
    out.to_vec()
}

fn subscribe_packet(filter: &str) -> Packet {
    let mut subscribe = Subscribe::new(filter, QoS::AtLeastOnce);
    subscribe.pkid = 1;
    Packet::Subscribe(subscribe)
}

fn publish_packet(topic: &str, payload: &[u8]) -> Packet {
    Packet::Publish(Publish::new(topic, QoS::AtMostOnce, payload.to_vec()))
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    fn over(stream: S) -> Raw<S> {
        Raw {
            stream,
            buf: BytesMut::with_capacity(4096),
        }
    }

    /// Send CONNECT and insist on an accepting CONNACK.
    async fn connect(stream: S, client_id: &str) -> Raw<S> {
        let mut raw = Raw::over(stream);
        raw.send(connect_packet(client_id)).await;
        match raw.recv().await {
            Packet::ConnAck(connack) => assert_eq!(connack.code, ConnectReturnCode::Success),
            other => panic!("expected CONNACK, got {other:?}"),
        }
        raw
    }

    async fn send(&mut self, packet: Packet) {
        self.send_raw(&encode(packet)).await;
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        timeout(WAIT, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        .expect("write in time")
        .expect("write");
    }

    async fn recv(&mut self) -> Packet {
        loop {
            match Packet::read(&mut self.buf, 1 << 20) {
                Ok(packet) => return packet,
                Err(mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(err) => panic!("broker sent a malformed packet: {err}"),
            }
            let read = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a packet in time")
                .expect("read");
            assert!(read > 0, "the broker closed the connection");
        }
    }

    async fn subscribe(&mut self, filter: &str) {
        self.send(subscribe_packet(filter)).await;
        assert!(matches!(self.recv().await, Packet::SubAck(_)));
    }

    async fn expect_publish(&mut self, topic: &str, payload: &[u8]) {
        match self.recv().await {
            Packet::Publish(publish) => {
                assert_eq!(publish.topic, topic);
                assert_eq!(&publish.payload[..], payload);
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

async fn tcp(addr: SocketAddr) -> TcpStream {
    timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn tls(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = ServerName::try_from("localhost").unwrap();
    timeout(WAIT, connector.connect(name, tcp(addr).await))
        .await
        .expect("TLS handshake in time")
}

// ---------------------------------------------------------------------------------------------
// Raw MQTT over each transport (no external program needed)

#[tokio::test]
async fn tls_client_exchanges_messages_with_a_plain_one() {
    let pki = new_pki();
    let broker = Broker::start(config(pki.server())).await.unwrap();
    let secure = tls(broker.tls_addr().unwrap(), &pki.connector(false))
        .await
        .unwrap();
    let mut subscriber = Raw::connect(secure, "tls-sub").await;
    subscriber.subscribe("tls/#").await;
    let mut publisher = Raw::connect(tcp(broker.local_addr()).await, "plain-pub").await;
    publisher.send(publish_packet("tls/a", b"over TLS")).await;
    subscriber.expect_publish("tls/a", b"over TLS").await;
    broker.stop().await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_does_not_block_other_clients() {
    let pki = new_pki();
    let broker = Broker::start(Config {
        connect_timeout: Duration::from_secs(4),
        ..config(pki.server())
    })
    .await
    .unwrap();
    let tls_addr = broker.tls_addr().unwrap();
    // Connected, sending nothing: the TLS handshake waits for a ClientHello that never comes.
    let mut stalled = tcp(tls_addr).await;
    let mut half_hello = tcp(tls_addr).await;
    half_hello
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();

    let connector = pki.connector(false);
    let mut subscriber = Raw::connect(tls(tls_addr, &connector).await.unwrap(), "s").await;
    subscriber.subscribe("t").await;
    let mut publisher = Raw::connect(tls(tls_addr, &connector).await.unwrap(), "p").await;
    publisher.send(publish_packet("t", b"not blocked")).await;
    subscriber.expect_publish("t", b"not blocked").await;
    // Done while the stalled handshakes are still waiting: nobody waited for their timeout.
    for stream in [&stalled, &half_hello] {
        let mut scratch = [0u8; 64];
        let pending = stream.try_read(&mut scratch);
        assert!(
            matches!(&pending, Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
            "the other clients waited for the stalled handshake: {pending:?}"
        );
    }

    // The connect timeout bounds the stalled handshakes: the broker closes both.
    for stream in [&mut stalled, &mut half_hello] {
        let closed = timeout(WAIT, async {
            let mut scratch = [0u8; 64];
            while let Ok(1..) = stream.read(&mut scratch).await {}
        })
        .await;
        assert!(closed.is_ok(), "a stalled handshake was not closed");
    }
    broker.stop().await;
}

#[tokio::test]
async fn client_certificate_required_and_its_identity() {
    let pki = new_pki();
    let broker = Broker::start(config(Tls {
        use_identity_as_username: true,
        ..pki.server_requiring_certificates()
    }))
    .await
    .unwrap();
    let tls_addr = broker.tls_addr().unwrap();

    // Without a certificate the handshake fails (TLS 1.2) or the connection is closed right
    // after it (TLS 1.3, where the client learns of the refusal on its first read).
    match tls(tls_addr, &pki.connector(false)).await {
        Err(_) => {}
        Ok(stream) => {
            let mut raw = Raw::over(stream);
            let _ = timeout(WAIT, raw.stream.write_all(&encode(connect_packet("x")))).await;
            let read = timeout(WAIT, raw.stream.read_buf(&mut raw.buf))
                .await
                .expect("the refusal in time");
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "a client without a certificate was served: {read:?}"
            );
        }
    }

    let with_cert = tls(tls_addr, &pki.connector(true)).await.unwrap();
    let mut client = Raw::connect(with_cert, "c").await;
    client.subscribe("id/#").await;
    client.send(publish_packet("id/x", b"mine")).await;
    client.expect_publish("id/x", b"mine").await;
    broker.stop().await;
}

#[tokio::test]
async fn a_ca_file_alone_makes_the_client_certificate_optional() {
    let pki = new_pki();
    let broker = Broker::start(config(Tls {
        cafile: Some(pki.path("ca.pem")),
        ..pki.server()
    }))
    .await
    .unwrap();
    let tls_addr = broker.tls_addr().unwrap();
    for with_cert in [false, true] {
        let stream = tls(tls_addr, &pki.connector(with_cert)).await.unwrap();
        let mut client = Raw::connect(stream, "optional").await;
        client.subscribe("opt").await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn websocket_any_split_and_the_mqtt_subprotocol() {
    let pki = new_pki();
    let broker = Broker::start(config(pki.server())).await.unwrap();
    let ws_addr = broker.ws_addr().unwrap();

    let mut request = format!("ws://{ws_addr}/mqtt")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "mqttv3.1, mqtt".parse().unwrap());
    let (mut websocket, response) = timeout(
        WAIT,
        async_tungstenite::tokio::client_async(request, tcp(ws_addr).await),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        response.headers().get("sec-websocket-protocol").unwrap(),
        "mqttv3.1",
        "the first offered MQTT subprotocol is chosen"
    );
    // CONNECT split over three messages; then SUBSCRIBE and a PUBLISH in one message.
    let connect = encode(connect_packet("ws"));
    for piece in [&connect[..1], &connect[1..7], &connect[7..]] {
        websocket
            .send(Message::binary(piece.to_vec()))
            .await
            .unwrap();
    }
    let mut both = encode(subscribe_packet("ws/#"));
    both.extend(encode(publish_packet("ws/a", b"first")));
    websocket.send(Message::binary(both)).await.unwrap();

    let mut client = Raw::over(WsStream::new(websocket));
    assert!(matches!(client.recv().await, Packet::ConnAck(_)));
    assert!(matches!(client.recv().await, Packet::SubAck(_)));
    client.expect_publish("ws/a", b"first").await;

    let mut plain = Raw::connect(tcp(broker.local_addr()).await, "plain").await;
    plain.send(publish_packet("ws/b", &[7u8; 100_000])).await;
    client.expect_publish("ws/b", &[7u8; 100_000]).await;

    // wss: TLS, then the same upgrade, on any path; no subprotocol offered is fine too.
    let wss_addr = broker.wss_addr().unwrap();
    let secure = tls(wss_addr, &pki.connector(false)).await.unwrap();
    let request = format!("wss://localhost:{}/", wss_addr.port());
    let (websocket, response) = timeout(
        WAIT,
        async_tungstenite::tokio::client_async(request, secure),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    let mut secure = Raw::connect(WsStream::new(websocket), "wss").await;
    secure.send(publish_packet("ws/c", b"from wss")).await;
    client.expect_publish("ws/c", b"from wss").await;
    broker.stop().await;
}

#[tokio::test]
async fn unusable_tls_files_are_one_line_errors() {
    let pki = new_pki();
    let missing = Tls {
        certfile: pki.path("nope.pem"),
        ..pki.server()
    };
    let not_a_key = Tls {
        keyfile: pki.path("ca.pem"),
        ..pki.server()
    };
    let wrong_key = Tls {
        keyfile: pki.path("client.key"),
        ..pki.server()
    };
    for tls in [missing, not_a_key, wrong_key] {
        let err = match Broker::start(config(tls.clone())).await {
            Ok(_) => panic!("started with {tls:?}"),
            Err(err) => err,
        };
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        let message = err.to_string();
        assert!(!message.contains('\n'), "{message}");
    }
    let no_tls = Config {
        tls: None,
        ..config(pki.server())
    };
    assert!(Broker::start(no_tls).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// mosquitto's clients over TLS

/// `mosquitto_sub -v -C 1` over TLS in the background; returns once subscribed.
fn mosquitto_sub_tls(broker: &BackgroundBroker, args: &[String]) -> Child {
    let before = broker.subscriptions();
    let child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-v", "-C", "1", "-W", "10"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_subscriptions(broker, before + 1);
    child
}

fn mosquitto_pub_tls(args: &[String]) -> Output {
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(&mut child);
    child.wait_with_output().unwrap()
}

/// Wait at most WAIT for the child; kill it (by its own handle) if it takes longer.
fn wait_bounded(child: &mut Child) {
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn finish(mut child: Child) -> Output {
    wait_bounded(&mut child);
    child.wait_with_output().unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
}

#[test]
fn mosquitto_clients_over_tls_1_2_and_1_3() {
    if !have("mosquitto_sub") || !have("mosquitto_pub") {
        return;
    }
    let pki = new_pki();
    let broker = BackgroundBroker::start(config(pki.server())).unwrap();
    let port = broker.tls_addr().unwrap().port().to_string();
    for version in ["tlsv1.2", "tlsv1.3"] {
        let tls = strings(&[
            "--cafile",
            &pki.file("ca.pem"),
            "-p",
            &port,
            "--tls-version",
            version,
        ]);
        let topic = format!("tls/{version}");
        let sub = mosquitto_sub_tls(&broker, &[tls.clone(), strings(&["-t", "tls/#"])].concat());
        let publish =
            mosquitto_pub_tls(&[tls, strings(&["-t", &topic, "-m", "hello over TLS"])].concat());
        assert!(
            publish.status.success(),
            "mosquitto_pub --tls-version {version}: {publish:?}"
        );
        let output = finish(sub);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{topic} hello over TLS\n"),
            "{output:?}"
        );
        assert!(output.status.success(), "{output:?}");
    }
}

#[test]
fn mosquitto_clients_with_a_required_client_certificate() {
    if !have("mosquitto_sub") || !have("mosquitto_pub") {
        return;
    }
    let pki = new_pki();
    let broker = BackgroundBroker::start(config(pki.server_requiring_certificates())).unwrap();
    let port = broker.tls_addr().unwrap().port().to_string();
    let tls = strings(&["--cafile", &pki.file("ca.pem"), "-p", &port]);
    let cert = |name: &str| {
        strings(&[
            "--cert",
            &pki.file(&format!("{name}.pem")),
            "--key",
            &pki.file(&format!("{name}.key")),
        ])
    };
    let message = strings(&["-t", "cert/x", "-m", "with a certificate", "-q", "1"]);

    let without = mosquitto_pub_tls(&[tls.clone(), message.clone()].concat());
    assert!(
        !without.status.success(),
        "accepted without a certificate: {without:?}"
    );
    let stranger = mosquitto_pub_tls(&[tls.clone(), cert("stranger"), message.clone()].concat());
    assert!(
        !stranger.status.success(),
        "accepted another CA's certificate: {stranger:?}"
    );

    let sub = mosquitto_sub_tls(
        &broker,
        &[tls.clone(), cert("client"), strings(&["-t", "cert/#"])].concat(),
    );
    let publish = mosquitto_pub_tls(&[tls, cert("client"), message].concat());
    assert!(publish.status.success(), "{publish:?}");
    let output = finish(sub);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "cert/x with a certificate\n",
        "{output:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// paho-mqtt over WebSockets

#[test]
fn paho_over_ws_and_wss() {
    if !have_paho() {
        return;
    }
    let pki = new_pki();
    let broker = BackgroundBroker::start(config(pki.server())).unwrap();
    let ws = broker.ws_addr().unwrap().port().to_string();
    let wss = broker.wss_addr().unwrap().port().to_string();
    for args in [vec![ws.as_str()], vec![wss.as_str(), &pki.file("ca.pem")]] {
        let output = run_python("paho_websocket.py", &args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            (output.status.code(), stdout.as_ref()),
            (Some(0), "ok connect\nok subscribe\nok round-trip\n"),
            "paho over websockets {args:?}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// skeeter broker

/// SIGTERM to our own child, by its PID: the broker stops cleanly and exits 0.
fn stop(broker: SkeeterBroker) {
    let status = broker.terminate();
    assert_eq!(status.code(), Some(0), "skeeter broker after SIGTERM");
}

fn port_of(line: &str, scheme: &str) -> u16 {
    let prefix = format!("listening on {scheme}://127.0.0.1:");
    line.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"))
        .parse()
        .unwrap()
}

#[test]
fn skeeter_broker_prints_a_line_per_listener() {
    let pki = new_pki();
    let args = strings(&[
        "--port",
        "0",
        "--tls-port",
        "0",
        "--ws-port",
        "0",
        "--wss-port",
        "0",
        "--certfile",
        &pki.file("server.pem"),
        "--keyfile",
        &pki.file("server.key"),
    ]);
    let (child, lines) = skeeter_broker(&args, 4);
    let ports = [
        port_of(&lines[0], "mqtt"),
        port_of(&lines[1], "mqtts"),
        port_of(&lines[2], "ws"),
        port_of(&lines[3], "wss"),
    ];
    for port in ports {
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    }
    stop(child);

    let args = strings(&[
        "--port",
        "0",
        "--tls-port",
        "0",
        "--certfile",
        &pki.file("server.pem"),
        "--keyfile",
        &pki.file("server.key"),
    ]);
    let (child, lines) = skeeter_broker(&args, 2);
    port_of(&lines[0], "mqtt");
    port_of(&lines[1], "mqtts");
    stop(child);
}

#[test]
fn skeeter_broker_uses_the_certificate_identity_as_username() {
    if !have("mosquitto_pub") {
        return;
    }
    let pki = new_pki();
    let args = strings(&[
        "-v",
        "--port",
        "0",
        "--tls-port",
        "0",
        "--certfile",
        &pki.file("server.pem"),
        "--keyfile",
        &pki.file("server.key"),
        "--cafile",
        &pki.file("ca.pem"),
        "--require-certificate",
        "--use-identity-as-username",
    ]);
    let (child, lines) = skeeter_broker(&args, 2);
    let stderr = child.stderr();
    let port = port_of(&lines[1], "mqtts").to_string();
    let publish = mosquitto_pub_tls(&strings(&[
        "--cafile",
        &pki.file("ca.pem"),
        "-p",
        &port,
        "--cert",
        &pki.file("client.pem"),
        "--key",
        &pki.file("client.key"),
        "-u",
        "claimed",
        "-t",
        "id",
        "-m",
        "x",
    ]));
    assert!(publish.status.success(), "{publish:?}");
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = stderr
            .recv_timeout(left)
            .expect("a connect line naming user sensor-1");
        if line.contains("connected") {
            assert!(line.contains("(user sensor-1)"), "{line}");
            break;
        }
    }
    stop(child);
}

#[test]
fn skeeter_broker_bad_tls_files_exit_10_with_one_line() {
    let pki = new_pki();
    for (certfile, keyfile) in [("missing.pem", "server.key"), ("server.pem", "ca.pem")] {
        let output = common::skeeter()
            .args(["broker", "--port", "0", "--tls-port", "0", "--certfile"])
            .arg(pki.path(certfile))
            .arg("--keyfile")
            .arg(pki.path(keyfile))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(10), "{output:?}");
        assert!(output.stdout.is_empty(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("skeeter: error: "), "{stderr}");
        assert!(
            stderr.contains(certfile) || stderr.contains(keyfile),
            "{stderr}"
        );
    }
}

#[test]
fn skeeter_broker_tls_port_in_use_exits_11() {
    let pki = new_pki();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = common::skeeter()
        .args(["broker", "--port", "0", "--tls-port", &port, "--certfile"])
        .arg(pki.path("server.pem"))
        .arg("--keyfile")
        .arg(pki.path("server.key"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(11), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

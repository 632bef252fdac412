//! `skeeter clean-retained FILTER`: list (--dry-run) or clear every retained message under a
//! filter, and exit as soon as the broker's retained burst is over.
//!
//! The end of the burst is found with a marker: FILTER is subscribed at QoS 0 (so no in-flight
//! window holds retained messages back) together with a topic of our own; after the SUBACK we
//! publish one QoS 0 message to that topic. It is queued behind the retained messages, so its
//! return means they have all arrived.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Result;
use bytes::Bytes;
use rumqttc::QoS;
use tokio::sync::mpsc;

use crate::cli::CleanRetainedArgs;
use crate::client::{Connection, Event, Publication, Subscription, options};
use crate::exit::{Code, Fatal};

pub async fn run(args: CleanRetainedArgs) -> Result<()> {
    let settings = options::settings(&args.connect)?;
    let quiet = settings.quiet;
    let deadline = super::deadline(Some(args.timeout));
    let work = clean(&args, &settings);
    let result = tokio::select! {
        result = work => result,
        _ = super::sleep_until(deadline) => Err(super::timed_out(Some(args.timeout))),
    };
    super::quiet(quiet, result)
}

async fn clean(args: &CleanRetainedArgs, settings: &options::Settings) -> Result<()> {
    let mut connection = Connection::open(settings, 64).await?;
    let marker = format!("skeeter/clean-retained/{:016x}", rand::random::<u64>());
    let subscription = Subscription {
        filters: vec![args.filter.clone(), marker.clone()],
        qos: 0,
        ..Subscription::default()
    };
    connection.client.try_subscribe(&subscription)?;
    // BTreeSet: listed in topic order, each topic once.
    let mut topics = BTreeSet::new();
    loop {
        match connection.next_event().await {
            Ok(Event::SubAck(codes)) => {
                if let Some(Err(code)) = codes.first() {
                    return Err(Fatal::new(
                        Code::Failure,
                        format!(
                            "the broker refused the subscription to '{}' ({})",
                            args.filter,
                            crate::client::reason_words(*code)
                        ),
                    )
                    .into());
                }
                if !connection
                    .client
                    .try_publish(&marker, QoS::AtMostOnce, false, b"end".to_vec())
                {
                    return Err(anyhow::anyhow!("cannot queue the end marker"));
                }
            }
            Ok(Event::Publish(message)) if message.topic == marker => break,
            Ok(Event::Publish(message)) if message.retain && !message.payload.is_empty() => {
                topics.insert(message.topic);
            }
            Ok(_) => {}
            Err(err) => return Err(crate::client::lost_error(err, connection.address())),
        }
    }

    let mut stdout = std::io::stdout().lock();
    for topic in &topics {
        // A closed stdout (| head) ends the listing, not the cleaning.
        let _ = writeln!(stdout, "{topic}");
    }
    let _ = stdout.flush();
    let count = topics.len();
    if args.dry_run {
        connection.disconnect().await?;
        if !settings.quiet {
            crate::say!(
                "skeeter: {count} retained message(s) under '{}' (dry run: none cleared)",
                args.filter
            );
        }
        return Ok(());
    }
    connection.progress = Some(crate::term::progress(
        count as u64,
        false,
        &format!("clearing {}", args.filter),
    ));
    let (tx, rx) = mpsc::channel(64);
    let feeder = tokio::spawn(async move {
        for topic in topics {
            let clear = Publication {
                payload: Bytes::new(),
                topic: Some(topic),
                qos: Some(QoS::AtLeastOnce),
                retain: Some(true),
                properties: None,
            };
            if tx.send(Ok(clear)).await.is_err() {
                break;
            }
        }
    });
    let cleared = connection
        .publish_all(
            String::new(),
            QoS::AtLeastOnce,
            true,
            rx,
            std::time::Duration::ZERO,
        )
        .await?;
    let _ = feeder.await;
    if let Some(bar) = connection.progress.take() {
        bar.finish_and_clear();
    }
    if !settings.quiet {
        crate::say!(
            "skeeter: cleared {cleared} retained message(s) under '{}'",
            args.filter
        );
    }
    Ok(())
}

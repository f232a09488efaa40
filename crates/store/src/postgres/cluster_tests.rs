//! The unit tests of `cluster.rs`, each on a throwaway PostgreSQL cluster.

use crate::Cluster;
use crate::postgres::PgStore;
use crate::postgres::two_instances;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_lane_has_one_holder_until_its_claim_expires() {
    let (_cluster, _url, a, b) = two_instances().await;
    assert_eq!(a.heartbeat("a", 1_000, 5_000).await.unwrap(), 1);
    assert_eq!(b.heartbeat("b", 2_000, 5_000).await.unwrap(), 2);
    assert_eq!(
        a.heartbeat("a", 9_000, 5_000).await.unwrap(),
        1,
        "b is gone"
    );
    let both = names(&["w1", "w2"]);
    assert_eq!(
        a.claim_lanes("a", &both, 100, 200).await.unwrap().len(),
        2,
        "free at first"
    );
    assert!(
        b.claim_lanes("b", &both, 150, 250)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(a.renew_lanes("a", &both, 300).await.unwrap().len(), 2);
    // Released or expired, another takes them; the old holder's renewal then fails.
    a.release_lanes("a", &names(&["w1"])).await.unwrap();
    assert_eq!(b.claim_lanes("b", &both, 250, 400).await.unwrap(), ["w1"]);
    assert_eq!(b.claim_lanes("b", &both, 301, 400).await.unwrap().len(), 2);
    assert!(a.renew_lanes("a", &both, 500).await.unwrap().is_empty());
    let (free, current) = a.unclaimed_lanes(&both, 350).await.unwrap();
    assert!(free.is_empty(), "claimed, and nothing pending anyway");
    assert_eq!(current, 2);
}

fn move_to(cursor: i64) -> crate::OutboxCommit {
    crate::OutboxCommit {
        stage: Some(("deliver".into(), cursor)),
        snapshot: None,
        batches: Vec::new(),
        at: cursor,
    }
}

#[tokio::test]
async fn a_stage_commit_from_an_instance_that_lost_the_stage_is_refused() {
    use crate::{StageCommit, Store, StoreError};
    let (_cluster, _url, a, b) = two_instances().await;
    assert!(a.stage_load("deliver").await.unwrap().is_none());
    assert!(b.stage_load("deliver").await.unwrap().is_none());
    a.outbox_commit(move_to(5)).await.unwrap();
    a.outbox_commit(move_to(6)).await.unwrap();
    let refused = b.outbox_commit(move_to(7)).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Fenced { stage } if stage == "deliver"),
        "{refused}"
    );
    // b loads what a wrote and goes on; now a is the one behind.
    assert_eq!(b.stage_load("deliver").await.unwrap().unwrap().cursor, 6);
    b.outbox_commit(move_to(8)).await.unwrap();
    assert!(matches!(
        a.outbox_commit(move_to(9)).await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(a.stage_load("deliver").await.unwrap().unwrap().cursor, 8);
    // The correlation stage's commits are fenced the same way, and nothing of a
    // refused one is written.
    let commit = |cursor| StageCommit {
        stage: "correlate".into(),
        cursor,
        snapshot: b"{}".to_vec(),
        devices: Vec::new(),
        incidents: Vec::new(),
        changes: Vec::new(),
        device_changes: Vec::new(),
        at: cursor,
    };
    assert!(a.stage_load("correlate").await.unwrap().is_none());
    assert!(b.stage_load("correlate").await.unwrap().is_none());
    b.stage_commit(commit(3)).await.unwrap();
    assert!(matches!(
        a.stage_commit(commit(4)).await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(b.stage_load("correlate").await.unwrap().unwrap().cursor, 3);
}

#[tokio::test]
async fn a_command_waits_for_its_answer_and_versions_count_changes() {
    let cluster = pgtest::Cluster::start();
    let a = PgStore::open(&cluster.database(), None).await.unwrap();
    let id = a.relay_put("correlate", "{\"x\":1}", 10).await.unwrap();
    assert_eq!(a.relay_answer_of(id).await.unwrap(), None);
    assert_eq!(
        a.relay_open("correlate").await.unwrap(),
        [(id, "{\"x\":1}".to_string())]
    );
    assert!(a.relay_open("other").await.unwrap().is_empty());
    a.relay_answer(id, "ok", 11).await.unwrap();
    assert!(a.relay_open("correlate").await.unwrap().is_empty());
    assert_eq!(a.relay_answer_of(id).await.unwrap().as_deref(), Some("ok"));
    assert_eq!(a.relay_prune(11).await.unwrap(), 1);
    assert_eq!(a.version("subscriptions").await.unwrap(), 0);
}

#[tokio::test]
async fn a_late_copy_is_given_out_once_across_instances_and_forgotten_with_age() {
    let (_cluster, _url, a, b) = two_instances().await;
    assert_eq!(
        b.late_claim(&[[1; 16]]).await.unwrap(),
        vec![],
        "nothing at first"
    );
    let (k1, k2, k3) = ([1; 16], [2; 16], [3; 16]);
    // Key 1 was backfilled twice (two events of one identity), key 2 once.
    a.late_remember(&[(k1, [11; 16]), (k2, [21; 16])], 100)
        .await
        .unwrap();
    a.late_remember(&[(k1, [12; 16]), (k1, [11; 16])], 200)
        .await
        .unwrap();
    // Taken through the other instance: one pair per key asked for, the oldest first;
    // an unknown key takes nothing.
    let mut taken = b.late_claim(&[k1, k2, k3]).await.unwrap();
    taken.sort();
    assert_eq!(taken, vec![(k1, [11; 16]), (k2, [21; 16])]);
    assert_eq!(a.late_claim(&[k2]).await.unwrap(), vec![], "given out once");
    assert_eq!(a.late_claim(&[k1]).await.unwrap(), vec![(k1, [12; 16])]);
    assert_eq!(b.late_claim(&[k1, k2]).await.unwrap(), vec![], "none left");
    // Two instances taking the same pair at once: one gets it.
    a.late_remember(&[(k3, [31; 16])], 300).await.unwrap();
    let both = [k3];
    let (x, y) = tokio::join!(a.late_claim(&both), b.late_claim(&both));
    assert_eq!(x.unwrap().len() + y.unwrap().len(), 1);
    // Age: those remembered before the cut go.
    a.late_remember(&[(k1, [13; 16]), (k2, [22; 16])], 400)
        .await
        .unwrap();
    a.late_remember(&[(k3, [32; 16])], 500).await.unwrap();
    assert_eq!(a.late_prune(500).await.unwrap(), 2);
    assert_eq!(
        b.late_claim(&[k1, k2, k3]).await.unwrap(),
        vec![(k3, [32; 16])]
    );
}

#[tokio::test]
async fn a_report_kept_by_one_instance_is_read_by_another() {
    let (_cluster, _url, a, b) = two_instances().await;
    assert_eq!(b.report_get("backfill", 0).await.unwrap(), None);
    a.report_put("backfill", r#"{"n":1}"#, 10).await.unwrap();
    let (first, v1) = b.report_get("backfill", 0).await.unwrap().unwrap();
    assert_eq!(first, r#"{"n":1}"#);
    assert_eq!(
        b.report_get("backfill", v1).await.unwrap(),
        None,
        "unchanged"
    );
    // A later write with an earlier clock (another instance) is still newer.
    a.report_put("backfill", r#"{"n":2}"#, 5).await.unwrap();
    a.report_put("other", r#"{"n":9}"#, 20).await.unwrap();
    let (last, v2) = b.report_get("backfill", v1).await.unwrap().unwrap();
    assert_eq!(last, r#"{"n":2}"#);
    assert!(v2 > v1);
}

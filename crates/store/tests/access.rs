//! Tokens and the audit log: hashes only, live names unique, revocation frees a name,
//! last use never moves back, audit filters and paging, and retention prunes the audit.

mod common;

use common::HOUR_US;
use store::{AuditFilter, AuditRecord, NewToken, Order, PageRequest, Retention, TokenError};

fn token(name: &str, byte: u8) -> NewToken {
    NewToken {
        name: name.into(),
        role: "read".into(),
        hash: [byte; 32],
        created_at: HOUR_US,
        expires_at: None,
    }
}

fn record(at: i64, token: &str, action: &str, target: &str) -> AuditRecord {
    AuditRecord {
        at,
        token: token.into(),
        client: "203.0.113.9".into(),
        action: action.into(),
        target: target.into(),
        status: 200,
        before: None,
        after: Some(r#"{"ok":true}"#.into()),
    }
}

on_both_backends! {
    async fn live_names_are_unique_and_revoking_frees_them(store) {
    let first = store.create_token(token("ci", 1)).await.unwrap();
    assert!(matches!(
        store.create_token(token("ci", 2)).await,
        Err(TokenError::NameTaken(n)) if n == "ci"
    ));
    assert!(store.revoke_token("ci", 2 * HOUR_US).await.unwrap());
    assert!(
        !store.revoke_token("ci", 3 * HOUR_US).await.unwrap(),
        "no live ci left"
    );
    let second = store.create_token(token("ci", 3)).await.unwrap();
    assert_ne!(first.id, second.id);
    store
        .touch_tokens(vec![(second.id, 5 * HOUR_US), (second.id, 4 * HOUR_US)])
        .await
        .unwrap();
    let rows = store.tokens().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].revoked_at, Some(2 * HOUR_US));
    assert_eq!(rows[0].hash, [1; 32]);
    assert_eq!(
        rows[1].last_used_at,
        Some(5 * HOUR_US),
        "a last use never moves back"
    );
    }
}

on_both_backends! {
    async fn the_audit_log_filters_pages_and_follows_retention(store) {
    for (i, (who, action, target)) in [
        ("admin", "POST /orgs/{org_id}/webhooks", "/orgs/o1/webhooks"),
        ("ops", "POST /incidents/{id}/ack", "/incidents/4/ack"),
        ("ops", "POST /incidents/{id}/ack", "/incidents/42/ack"),
        ("admin", "DELETE /tokens/{name}", "/tokens/ci"),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .append_audit(record((i as i64 + 1) * HOUR_US, who, action, target))
            .await
            .unwrap();
    }
    let page = |limit, after| PageRequest {
        limit,
        after,
        order: Order::Desc,
    };
    let all = store
        .audit(AuditFilter::default(), page(10, None))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 4);
    assert_eq!(all.items[0].record.target, "/tokens/ci", "newest first");
    let ops = AuditFilter {
        token: Some("ops".into()),
        ..Default::default()
    };
    let first = store.audit(ops.clone(), page(1, None)).await.unwrap();
    assert_eq!(first.items[0].record.target, "/incidents/42/ack");
    let next = store.audit(ops, page(1, first.next)).await.unwrap();
    assert_eq!(next.items[0].record.target, "/incidents/4/ack");
    assert_eq!(next.next, None);
    let prefix = AuditFilter {
        target: Some("/incidents/4".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .audit(prefix, page(10, None))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let window = AuditFilter {
        since: Some(2 * HOUR_US),
        until: Some(3 * HOUR_US),
        ..Default::default()
    };
    assert_eq!(
        store
            .audit(window, page(10, None))
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    store
        .prune(Retention {
            data_before: Some(3 * HOUR_US),
            fingerprints_before: 0,
        })
        .await
        .unwrap();
    let kept = store
        .audit(AuditFilter::default(), page(10, None))
        .await
        .unwrap();
    let times: Vec<i64> = kept.items.iter().map(|a| a.record.at).collect();
    assert_eq!(
        times,
        [4 * HOUR_US, 3 * HOUR_US],
        "retention prunes the audit log"
    );
    }
}

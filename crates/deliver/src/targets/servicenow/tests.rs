use super::send::{explained, result_ticket};
use super::*;
use crate::schedule::Outcome;
use crate::targets::template::tests::incident;
use crate::targets::{Message, local_failure};

fn config() -> Config {
    Config {
        rate_limit: None,
        url: "https://dev1.service-now.com".into(),
        table: "incident".into(),
        username: Some("mistgate".into()),
        password: Some("s3cret".into()),
        oauth: None,
        category: "network".into(),
        assignment_group: None,
        caller_id: None,
        close_code: "Solution provided".into(),
        fields: Default::default(),
        title_template: None,
        text_template: None,
        verify_cert: true,
    }
}

fn oauth() -> OAuth {
    OAuth {
        client_id: "cid".into(),
        client_secret: "csecret".into(),
        token_url: None,
    }
}

#[test]
fn a_config_names_the_field_it_gets_wrong() {
    assert!(config().check().is_ok());
    let no_auth = Config {
        username: None,
        password: None,
        ..config()
    };
    assert!(no_auth.check().unwrap_err().starts_with("username"));
    let no_password = Config {
        password: None,
        ..config()
    };
    assert!(no_password.check().unwrap_err().starts_with("password"));
    let client_credentials = Config {
        username: None,
        password: None,
        oauth: Some(oauth()),
        ..config()
    };
    assert!(client_credentials.check().is_ok());
    let bad_table = Config {
        table: "incident?x=1".into(),
        ..config()
    };
    assert!(bad_table.check().unwrap_err().starts_with("table"));
    let shown = format!(
        "{:?}",
        Config {
            oauth: Some(oauth()),
            ..config()
        }
    );
    assert!(
        !shown.contains("s3cret") && !shown.contains("csecret"),
        "{shown}"
    );
}

#[test]
fn severities_give_the_priorities_of_the_default_matrix() {
    let pairs: Vec<_> = ["critical", "major", "minor", "warn", "info"]
        .iter()
        .map(|s| impact_urgency(&mist::Severity::parse(s)))
        .collect();
    assert_eq!(
        pairs,
        [("1", "1"), ("1", "2"), ("2", "2"), ("2", "3"), ("3", "3")]
    );
}

#[test]
fn correlation_ids_are_keys_that_fit_and_query_safely() {
    assert_eq!(
        correlation_id(&incident("opened")),
        "device_down:o:5c5b350e0001"
    );
    let Message::Incident(mut m) = incident("opened") else {
        unreachable!()
    };
    m.incident.key = "a^b".into();
    let id = correlation_id(&Message::Incident(m.clone()));
    assert!(id.starts_with("sha256:") && !id.contains('^'));
    m.incident.key = "k".repeat(200);
    assert!(correlation_id(&Message::Incident(m)).len() <= 100);
}

#[test]
fn token_forms_follow_the_grant() {
    let password = Config {
        oauth: Some(oauth()),
        ..config()
    };
    assert_eq!(
        token_form(&password),
        "grant_type=password&username=mistgate&password=s3cret&client_id=cid&client_secret=csecret"
    );
    let client = Config {
        username: None,
        password: None,
        ..password
    };
    assert_eq!(
        token_form(&client),
        "grant_type=client_credentials&client_id=cid&client_secret=csecret"
    );
    assert_eq!(
        client.token_url(),
        "https://dev1.service-now.com/oauth_token.do"
    );
}

#[test]
fn requests_use_the_table_api_shapes() {
    let create = create_request(&config(), &incident("opened"), "Basic x");
    assert_eq!(create.method, http::Method::POST);
    assert!(
        create
            .url
            .starts_with("https://dev1.service-now.com/api/now/table/incident?")
    );
    let ticket = Ticket {
        sys_id: "abc".into(),
        number: None,
    };
    let resolve = update_request(&config(), &incident("resolved"), &ticket, "Basic x");
    assert_eq!(resolve.method, http::Method::PATCH);
    assert!(
        resolve
            .url
            .starts_with("https://dev1.service-now.com/api/now/table/incident/abc?")
    );
    let body: serde_json::Value = serde_json::from_slice(&resolve.body).unwrap();
    assert_eq!(body["state"], "6");
    assert_eq!(body["close_code"], "Solution provided");
    let lookup = lookup_request(&config(), &incident("updated"), "Basic x");
    assert_eq!(lookup.method, http::Method::GET);
    let url = url::Url::parse(&lookup.url).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().collect();
    assert_eq!(
        query["sysparm_query"],
        "correlation_id=device_down:o:5c5b350e0001^active=true"
    );
}

#[test]
fn answers_yield_the_record_or_say_why_not() {
    assert_eq!(
        result_ticket(br#"{"result":{"sys_id":"s1","number":"INC1"}}"#, false).unwrap(),
        Some(Ticket {
            sys_id: "s1".into(),
            number: Some("INC1".into())
        })
    );
    assert_eq!(result_ticket(br#"{"result":[]}"#, true).unwrap(), None);
    assert!(result_ticket(br#"{"result":{}}"#, true).is_err());
    assert!(result_ticket(b"<html>", false).is_err());
    let failed = local_failure(
        Outcome::Status {
            code: 403,
            retry_after_us: None,
        },
        "HTTP 403",
    );
    let mut failed = failed;
    failed.status_code = Some(403);
    failed.response_body = r#"{"error":{"message":"Operation Failed","detail":"ACL Exception Insert Failed due to security constraints"},"status":"failure"}"#.into();
    assert_eq!(
        explained(failed, None).error.as_deref(),
        Some(
            "HTTP 403: Operation Failed (ACL Exception Insert Failed due to security constraints)"
        )
    );
}

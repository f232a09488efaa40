//! `aws-sns`: the SNS `Publish` action (Query API, form-encoded POST) for a topic ARN,
//! signed with Signature Version 4 by AWS's own signer (`aws-sigv4`).

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::Method;

use super::DELIVERY_ID_ATTRIBUTE;
use crate::request::HttpRequest;

/// An SNS topic ARN: `arn:<partition>:sns:<region>:<account id>:<topic name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicArn {
    text: String,
    partition: String,
    region: String,
}

impl TopicArn {
    /// The region the topic lives in (the signing region).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// SNS's endpoint for the topic's region, by partition.
    pub fn default_endpoint(&self) -> String {
        let suffix = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://sns.{}.{suffix}/", self.region)
    }
}

impl fmt::Display for TopicArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for TopicArn {
    type Err = String;

    fn from_str(s: &str) -> Result<TopicArn, String> {
        let bad = || {
            format!(
                "{s:?} is not an SNS topic ARN: arn:<partition>:sns:<region>:<12-digit account>:<topic>"
            )
        };
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, name] = parts[..] else {
            return Err(bad());
        };
        let word = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let topic = |n: &str| {
            let base = n.strip_suffix(".fifo").unwrap_or(n);
            (1..=256).contains(&n.len())
                && !base.is_empty()
                && base
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let ok = arn == "arn"
            && word(partition)
            && service == "sns"
            && word(region)
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && topic(name);
        ok.then(|| TopicArn {
            text: s.to_string(),
            partition: partition.to_string(),
            region: region.to_string(),
        })
        .ok_or_else(bad)
    }
}

/// The credentials mistgate signs with.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The `Publish` request for `message` (the Mist-format body, sent as the SNS message
/// text) to `topic` at `endpoint`, signed at `now`; the delivery id goes as a message
/// attribute. Fails only when the endpoint is not a URL the signer takes.
pub fn publish(
    topic: &TopicArn,
    endpoint: &str,
    credentials: &AwsCredentials,
    message: &[u8],
    delivery_id: &str,
    now: SystemTime,
) -> Result<HttpRequest, String> {
    let attribute = "MessageAttributes.entry.1";
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "Publish")
        .append_pair("Version", "2010-03-31")
        .append_pair("TopicArn", &topic.text)
        .append_pair("Message", &String::from_utf8_lossy(message))
        .append_pair(&format!("{attribute}.Name"), DELIVERY_ID_ATTRIBUTE)
        .append_pair(&format!("{attribute}.Value.DataType"), "String")
        .append_pair(&format!("{attribute}.Value.StringValue"), delivery_id)
        .finish();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "mistgate",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&topic.region)
        .name("sns")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        "POST",
        endpoint,
        [("content-type", content_type)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| format!("the SNS endpoint {endpoint:?} cannot be signed for: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("signing failed: {e}"))?
        .into_parts();
    let mut headers = vec![("Content-Type".to_string(), content_type.to_string())];
    headers.extend(
        instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string())),
    );
    Ok(HttpRequest {
        method: Method::POST,
        url: endpoint.to_string(),
        headers,
        body: Bytes::from(body),
        verify_cert: true,
        redact: vec!["x-amz-security-token".into()],
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn topic_arns_are_checked() {
        let arn: TopicArn = "arn:aws:sns:eu-west-1:123456789012:mist-events"
            .parse()
            .unwrap();
        assert_eq!(arn.region(), "eu-west-1");
        assert_eq!(
            arn.default_endpoint(),
            "https://sns.eu-west-1.amazonaws.com/"
        );
        let cn: TopicArn = "arn:aws-cn:sns:cn-north-1:123456789012:t.fifo"
            .parse()
            .unwrap();
        assert_eq!(
            cn.default_endpoint(),
            "https://sns.cn-north-1.amazonaws.com.cn/"
        );
        for bad in [
            "",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:1234:t",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:a b",
            "https://sns.eu-west-1.amazonaws.com/",
        ] {
            assert!(bad.parse::<TopicArn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn publish_is_a_signed_form_post() {
        let arn: TopicArn = "arn:aws:sns:us-east-1:123456789012:mist".parse().unwrap();
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: Some("session".into()),
        };
        let at = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        let req = publish(
            &arn,
            "http://127.0.0.1:9/",
            &creds,
            br#"{"topic":"alarms"}"#,
            "d-1",
            at,
        )
        .unwrap();
        let body = String::from_utf8(req.body.to_vec()).unwrap();
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert!(form.contains(&("Action".into(), "Publish".into())));
        assert!(form.contains(&("TopicArn".into(), arn.to_string())));
        assert!(form.contains(&("Message".into(), r#"{"topic":"alarms"}"#.into())));
        assert!(form.contains(&(
            "MessageAttributes.entry.1.Value.StringValue".into(),
            "d-1".into()
        )));
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("x-amz-date").as_deref(), Some("20250615T150640Z"));
        assert_eq!(header("x-amz-security-token").as_deref(), Some("session"));
        let auth = header("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250615/us-east-1/sns/aws4_request, SignedHeaders="
            ),
            "{auth}"
        );
        assert!(!format!("{creds:?}").contains("secret"));
    }
}

//! What a log line says about a certificate: subject, names, expiry, serial. Read from
//! the DER with a few lines of tag-length-value walking: only public fields of the leaf,
//! and `None` for anything unexpected (the handshake itself is rustls' business).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// The fields of a leaf certificate that an operator checks after a renewal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's common name, when it has one.
    pub subject_cn: Option<String>,
    /// The DNS names and IP addresses of the subject alternative names.
    pub names: Vec<String>,
    /// The end of the validity period.
    pub not_after: Option<OffsetDateTime>,
    /// The serial number in hex.
    pub serial: String,
}

impl std::fmt::Display for CertInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.subject_cn {
            Some(cn) => write!(f, "CN={cn}")?,
            None => write!(f, "no CN")?,
        }
        if !self.names.is_empty() {
            write!(f, ", names {}", self.names.join(" "))?;
        }
        if let Some(end) = self.not_after {
            let end = end
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|_| std::fmt::Error)?;
            write!(f, ", valid until {end}")?;
        }
        write!(f, ", serial {}", self.serial)
    }
}

const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads `der` (an X.509 certificate); `None` when it is not shaped like one.
pub fn describe(der: &[u8]) -> Option<CertInfo> {
    let (cert, _) = expect(der, 0x30)?;
    let (mut tbs, _) = expect(cert, 0x30)?;
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.2;
    }
    let (serial, rest) = expect(tbs, 0x02)?;
    let (_signature, rest) = expect(rest, 0x30)?;
    let (_issuer, rest) = expect(rest, 0x30)?;
    let (validity, rest) = expect(rest, 0x30)?;
    let (subject, mut rest) = expect(rest, 0x30)?;
    let not_after = {
        let (_, _, after) = tlv(validity)?;
        let (tag, value, _) = tlv(after)?;
        time_of(tag, value)
    };
    let mut names = Vec::new();
    while let Some((tag, value, next)) = tlv(rest) {
        if tag == 0xa3 {
            names = alt_names(value).unwrap_or_default();
        }
        rest = next;
    }
    Some(CertInfo {
        subject_cn: common_name(subject),
        names,
        not_after,
        serial: hex::encode(serial.strip_prefix(&[0]).unwrap_or(serial)),
    })
}

/// One tag-length-value: the tag, the value, what follows.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], wanted: u8) -> Option<(&[u8], &[u8])> {
    let (tag, value, rest) = tlv(input)?;
    (tag == wanted).then_some((value, rest))
}

/// The first common name of a Name (a sequence of sets of type-value pairs).
fn common_name(mut name: &[u8]) -> Option<String> {
    while let Some((_, set, next)) = tlv(name) {
        let (pair, _) = expect(set, 0x30)?;
        let (oid, value) = expect(pair, 0x06)?;
        if oid == OID_COMMON_NAME {
            let (_, text, _) = tlv(value)?;
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        name = next;
    }
    None
}

/// The DNS names (`[2]`) and IP addresses (`[7]`) of the subjectAltName extension, from
/// the `[3]` wrapper of the extensions.
fn alt_names(extensions: &[u8]) -> Option<Vec<String>> {
    let (mut list, _) = expect(extensions, 0x30)?;
    while let Some((_, extension, next)) = tlv(list) {
        let (oid, mut rest) = expect(extension, 0x06)?;
        if oid == OID_SUBJECT_ALT_NAME {
            if rest.first() == Some(&0x01) {
                rest = tlv(rest)?.2;
            }
            let (wrapped, _) = expect(rest, 0x04)?;
            let (mut general, _) = expect(wrapped, 0x30)?;
            let mut names = Vec::new();
            while let Some((tag, value, next)) = tlv(general) {
                match (tag, value.len()) {
                    (0x82, _) => names.push(String::from_utf8_lossy(value).into_owned()),
                    (0x87, 4) => names.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?).to_string(),
                    ),
                    (0x87, 16) => names.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(value).ok()?).to_string(),
                    ),
                    _ => {}
                }
                general = next;
            }
            return Some(names);
        }
        list = next;
    }
    Some(Vec::new())
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time_of(tag: u8, value: &[u8]) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy: i32 = text[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (0x18, 14) => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |i: usize| rest.get(i..i + 2)?.parse::<u8>().ok();
    let date = Date::from_calendar_date(year, Month::try_from(field(0)?).ok()?, field(2)?).ok()?;
    let time = Time::from_hms(field(4)?, field(6)?, field(8)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;

    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj
    /// /CN=gate.example.net -addext subjectAltName=DNS:gate.example.net,IP:192.0.2.7
    /// -set_serial 0x0badcafe -days 36500` (its key thrown away): a GeneralizedTime
    /// expiry, past 2049.
    const CERT: &str = include_str!("describe_test_cert.pem");

    fn der() -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap()
    }

    #[test]
    fn reads_subject_names_expiry_and_serial() {
        let info = describe(&der()).unwrap();
        assert_eq!(info.subject_cn.as_deref(), Some("gate.example.net"));
        assert_eq!(info.names, ["gate.example.net", "192.0.2.7"]);
        assert_eq!(info.serial, "0badcafe");
        assert_eq!(
            info.not_after,
            Some(time::macros::datetime!(2126-11-13 04:34:04 UTC))
        );
        assert_eq!(
            info.to_string(),
            "CN=gate.example.net, names gate.example.net 192.0.2.7, valid until 2126-11-13T04:34:04Z, serial 0badcafe"
        );
    }

    #[test]
    fn utc_time_years_wrap_at_1950() {
        let at = |text: &str| time_of(0x17, text.as_bytes()).map(|t| t.year());
        assert_eq!(at("491231235959Z"), Some(2049));
        assert_eq!(at("500101000000Z"), Some(1950));
        assert_eq!(at("501301000000Z"), None);
    }

    #[test]
    fn anything_else_is_none_never_a_panic() {
        let der = der();
        for end in 0..der.len() {
            assert_eq!(describe(&der[..end]), None);
        }
        assert_eq!(describe(b""), None);
        assert_eq!(describe(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}

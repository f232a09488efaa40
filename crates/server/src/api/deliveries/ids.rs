//! Ids of delivery results as UUIDs, as Mist's answers have them.
//!
//! The outbox numbers delivery attempts with integers; Mist's `webhook_delivery.id` is a
//! UUID string. Each integer maps to one UUID and back, with no table: a version 8
//! (custom) UUID whose first 32 bits are a tag (ASCII `mgda`) and whose other bits hold
//! the integer, so an id shown once is the same on every answer and after every restart.

use uuid::Uuid;

/// The first 32 bits of every delivery result's UUID.
const TAG: [u8; 4] = *b"mgda";

/// The UUID of delivery attempt `id`.
pub(crate) fn to_uuid(id: i64) -> Uuid {
    let id = id as u64;
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&TAG);
    // Bytes 4-5: the id's top 16 bits; 6: version 8; 8: variant 0b10; 10-15: the low 48.
    bytes[4..6].copy_from_slice(&((id >> 48) as u16).to_be_bytes());
    bytes[6] = 0x80;
    bytes[8] = 0x80;
    bytes[10..].copy_from_slice(&id.to_be_bytes()[2..]);
    Uuid::from_bytes(bytes)
}

/// The attempt id behind a UUID, or `None` when `text` is not one of these UUIDs.
pub(crate) fn from_uuid(text: &str) -> Option<i64> {
    let uuid = Uuid::parse_str(text).ok()?;
    let bytes = uuid.as_bytes();
    let id = u64::from(u16::from_be_bytes([bytes[4], bytes[5]])) << 48
        | bytes[10..]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (to_uuid(id as i64) == uuid).then_some(id as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_to_uuids_and_back() {
        for id in [0, 1, 42, 1 << 47, (1 << 48) + 7, i64::MAX] {
            let uuid = to_uuid(id);
            assert_eq!(uuid.get_version_num(), 8, "{uuid}");
            assert_eq!(from_uuid(&uuid.to_string()), Some(id));
            assert_eq!(from_uuid(&uuid.to_string().to_uppercase()), Some(id));
        }
        assert_eq!(
            to_uuid(42).to_string(),
            "6d676461-0000-8000-8000-00000000002a"
        );
        for bad in ["", "17", "x", "7a11b901-f719-4c91-8aef-deb8699a6364"] {
            assert_eq!(from_uuid(bad), None, "{bad}");
        }
    }
}

use super::*;
use std::collections::HashSet;

#[test]
fn ids_and_macs_are_unique_and_stable_when_the_org_grows() {
    let small = Org::generate(&OrgSpec::default(), 5);
    let big = Org::generate(
        &OrgSpec {
            sites: 4,
            aps_per_site: 50,
            ..OrgSpec::default()
        },
        5,
    );
    assert_eq!(small.id, big.id);
    assert_eq!(small.sites[0].id, big.sites[0].id);
    assert_eq!(small.sites[1].aps[3].mac, big.sites[1].aps[3].mac);
    let macs: HashSet<&str> = big.devices().map(|d| d.mac.as_str()).collect();
    assert_eq!(macs.len(), big.devices().count());
    let sites: HashSet<&str> = big.sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(sites.len(), 4);
    for d in big.devices() {
        assert_eq!(d.mac.len(), 12);
        assert!(mist::normalize_mac(&d.mac).is_some(), "{}", d.mac);
    }
    for c in &big.sites[0].clients {
        assert_eq!(mist::normalize_mac(&c.mac).as_deref(), Some(c.mac.as_str()));
    }
}

#[test]
fn a_given_org_id_is_kept() {
    let spec = OrgSpec {
        org_id: Some("9747a50a-23f8-4ca5-83c4-102e807874de".into()),
        ..OrgSpec::default()
    };
    assert_eq!(
        Org::generate(&spec, 1).id,
        "9747a50a-23f8-4ca5-83c4-102e807874de"
    );
}

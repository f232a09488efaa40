//! SVG charts from numbers: pure functions, no IO. Labels are escaped here, because the
//! templates insert the result as markup.

use std::fmt::Write;

/// The most series a stacked chart draws; the rest are summed into "other".
pub const MAX_SERIES: usize = 8;

const W: f64 = 720.0;
const H: f64 = 150.0;
const TOP: f64 = 14.0;

/// One named series of a stacked chart, one value per bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// Keeps the [`MAX_SERIES`]` - 1` largest series and sums the others into `other`.
pub fn top_series(mut all: Vec<Series>) -> Vec<Series> {
    all.sort_by(|a, b| {
        let (sa, sb) = (a.values.iter().sum::<f64>(), b.values.iter().sum::<f64>());
        sb.total_cmp(&sa).then_with(|| a.name.cmp(&b.name))
    });
    if all.len() <= MAX_SERIES {
        return all;
    }
    let rest = all.split_off(MAX_SERIES - 1);
    let len = rest.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let mut other = vec![0.0; len];
    for s in &rest {
        for (o, v) in other.iter_mut().zip(&s.values) {
            *o += v;
        }
    }
    all.push(Series {
        name: "other".into(),
        values: other,
    });
    all
}

/// A stacked area chart of `series` over `buckets` buckets, with the peak on the y axis
/// and `x_labels` (bucket index, text) under it. `label` is the chart's accessible name.
pub fn stacked(
    series: &[Series],
    buckets: usize,
    x_labels: &[(usize, String)],
    label: &str,
) -> String {
    let buckets = buckets.max(1);
    let mut totals = vec![0.0f64; buckets];
    for s in series {
        for (t, v) in totals.iter_mut().zip(&s.values) {
            *t += v.max(0.0);
        }
    }
    let peak = totals.iter().copied().fold(0.0, f64::max);
    let scale = if peak > 0.0 { (H - TOP) / peak } else { 0.0 };
    let x = |i: usize| {
        if buckets == 1 {
            W / 2.0
        } else {
            i as f64 * W / (buckets - 1) as f64
        }
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 -2 {W} {h}" role="img" aria-label="{label}"><title>{label}</title>"#,
        h = H + 22.0,
        label = escape(label),
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="0" y1="{H}" x2="{W}" y2="{H}"/><line class="grid" x1="0" y1="{TOP}" x2="{W}" y2="{TOP}"/>"#
    );
    let mut below = vec![0.0f64; buckets];
    for (n, s) in series.iter().enumerate() {
        let above: Vec<f64> = below
            .iter()
            .enumerate()
            .map(|(i, b)| b + s.values.get(i).copied().unwrap_or(0.0).max(0.0))
            .collect();
        let mut d = String::new();
        for (i, v) in above.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                x(i),
                H - v * scale
            );
        }
        for i in (0..buckets).rev() {
            let _ = write!(d, "L{:.1},{:.1}", x(i), H - below[i] * scale);
        }
        let total: f64 = s.values.iter().sum();
        let _ = write!(
            svg,
            r#"<path class="c{n}" d="{d}Z"><title>{} · {}</title></path>"#,
            escape(&s.name),
            fmt_number(total)
        );
        below = above;
    }
    let _ = write!(
        svg,
        r#"<text class="label" x="4" y="{}">peak {}</text>"#,
        TOP - 3.0,
        fmt_number(peak)
    );
    for (i, text) in x_labels {
        let anchor = if *i == 0 {
            "start"
        } else if *i + 1 >= buckets {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r#"<text class="label" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            x(*i),
            H + 16.0,
            escape(text)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Bars of a ratio per bucket (0..=1, `None` where there was nothing to measure), e.g. the
/// share of delivery attempts that succeeded.
/// `since` labels the first bar's end of the axis (the last is "now").
pub fn ratio_bars(values: &[Option<f64>], label: &str, since: &str) -> String {
    let n = values.len().max(1);
    let w = W / n as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 -2 {W} {h}" role="img" aria-label="{l}"><title>{l}</title><line class="axis" x1="0" y1="{H}" x2="{W}" y2="{H}"/><line class="grid" x1="0" y1="4" x2="{W}" y2="4"/><text class="label" x="4" y="16">100%</text><text class="label" x="0" y="{ly}">{first}</text><text class="label" x="{W}" y="{ly}" text-anchor="end">now</text>"#,
        h = H + 22.0,
        ly = H + 16.0,
        first = escape(since),
        l = escape(label)
    );
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v else { continue };
        let v = v.clamp(0.0, 1.0);
        let h = (H - 4.0) * v.max(0.02);
        let class = if v >= 0.99 {
            "ok"
        } else if v >= 0.9 {
            "warn"
        } else {
            "bad"
        };
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"><title>{:.0}%</title></rect>"#,
            i as f64 * w + 0.5,
            H - h,
            (w - 1.0).max(0.5),
            v * 100.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 || v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Escapes text for SVG/HTML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, values: &[f64]) -> Series {
        Series {
            name: name.into(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn layers_stack_up_to_the_peak() {
        let svg = stacked(
            &[s("alarms", &[1.0, 3.0]), s("audits", &[1.0, 1.0])],
            2,
            &[(0, "10:00".into()), (1, "10:01".into())],
            "Events",
        );
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("peak 4"), "{svg}");
        // The top layer reaches the top of the plot at the peak bucket.
        assert!(svg.contains(&format!("L{W:.1},{TOP:.1}")), "{svg}");
        assert!(svg.contains("alarms · 4") && svg.contains("audits · 2"));
        assert!(svg.contains(r#"text-anchor="end">10:01"#));
    }

    #[test]
    fn labels_are_escaped_and_empty_charts_are_flat() {
        let svg = stacked(&[s("<b>", &[0.0])], 0, &[], "a \"chart\"");
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("a &quot;chart&quot;"));
        assert!(svg.contains("peak 0"));
    }

    #[test]
    fn small_series_fold_into_other() {
        let many: Vec<Series> = (0..12)
            .map(|i| s(&format!("t{i:02}"), &[i as f64, 1.0]))
            .collect();
        let top = top_series(many);
        assert_eq!(top.len(), MAX_SERIES);
        assert_eq!(top[0].name, "t11");
        let other = top.last().unwrap();
        assert_eq!(other.name, "other");
        // t00..t04 folded: 0+1+2+3+4 and five ones.
        assert_eq!(other.values, vec![10.0, 5.0]);
    }

    #[test]
    fn ratios_colour_by_health() {
        let svg = ratio_bars(&[Some(1.0), None, Some(0.5), Some(0.95)], "ok", "4 h ago");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(
            svg.contains(r#"class="ok""#)
                && svg.contains(r#"class="bad""#)
                && svg.contains(r#"class="warn""#)
        );
        assert!(svg.contains("50%"));
        assert!(svg.contains(">4 h ago<") && svg.contains(">now<"));
    }
}

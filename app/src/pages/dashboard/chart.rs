//! The dashboard's charts, drawn as inline SVG by the component itself: the server renders them,
//! so they read without JavaScript, and the browser redraws them from the same data.

use crate::api::{HistoryPoint, HistoryRange, StatusCounts};
use leptos::prelude::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
/// Room for the labels of the value axis (left) and the time axis (bottom).
const LEFT: f64 = 44.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 178.0;
const RIGHT: f64 = WIDTH - 8.0;

/// Unix milliseconds of an RFC 3339 time.
pub(super) fn millis(text: &str) -> Option<i64> {
    let time = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

/// One bucket as drawn: the time it covers and its counts.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Bucket {
    pub from: i64,
    pub to: i64,
    pub counts: StatusCounts,
}

/// The buckets of `history` within the range ending at `now`, the current one holding `live`
/// (the statuses now, which events bring before the next round is recorded).
pub(super) fn buckets(
    history: &[HistoryPoint],
    range: HistoryRange,
    now: i64,
    live: StatusCounts,
) -> Vec<Bucket> {
    let start = now - range.span_ms();
    let current = now - now.rem_euclid(range.bucket_ms());
    let mut buckets: Vec<Bucket> = history
        .iter()
        .filter_map(|point| {
            let from = millis(&point.at)?;
            Some(Bucket {
                from: from.max(start),
                to: (from + range.bucket_ms()).min(now),
                counts: point.counts,
            })
        })
        .filter(|b| b.to > b.from)
        .collect();
    match buckets.last_mut() {
        Some(last) if last.from >= current => last.counts = live,
        _ => buckets.push(Bucket {
            from: current,
            to: now.max(current + 1),
            counts: live,
        }),
    }
    buckets
}

/// Where values and times go in the drawing.
struct Scale {
    start: i64,
    span: f64,
    max: f64,
}

impl Scale {
    fn x(&self, at: i64) -> f64 {
        LEFT + (at - self.start) as f64 / self.span * (RIGHT - LEFT)
    }

    fn y(&self, value: u64) -> f64 {
        BOTTOM - value as f64 / self.max * (BOTTOM - TOP)
    }
}

/// The outline of a level over the buckets, as steps: flat across each bucket, down to zero
/// where no round was recorded.
fn outline(
    buckets: &[Bucket],
    scale: &Scale,
    level: impl Fn(&StatusCounts) -> u64,
) -> Vec<(f64, f64)> {
    let mut line = Vec::with_capacity(buckets.len() * 2);
    let mut end = None;
    for bucket in buckets {
        if let Some(end) = end
            && bucket.from > end
        {
            line.push((scale.x(end), BOTTOM));
            line.push((scale.x(bucket.from), BOTTOM));
        }
        let y = scale.y(level(&bucket.counts));
        line.push((scale.x(bucket.from), y));
        line.push((scale.x(bucket.to), y));
        end = Some(bucket.to);
    }
    line
}

/// The band between two levels, as the `points` of a polygon.
fn band(
    buckets: &[Bucket],
    scale: &Scale,
    upper: impl Fn(&StatusCounts) -> u64,
    lower: impl Fn(&StatusCounts) -> u64,
) -> String {
    let top = outline(buckets, scale, upper);
    let bottom = outline(buckets, scale, lower);
    top.iter()
        .chain(bottom.iter().rev())
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three stacked bands, bottom up: online, offline, unknown.
pub(super) fn bands(buckets: &[Bucket], range: HistoryRange, now: i64) -> [String; 3] {
    let scale = Scale {
        start: now - range.span_ms(),
        span: range.span_ms() as f64,
        max: buckets
            .iter()
            .map(|b| b.counts.total())
            .max()
            .unwrap_or(0)
            .max(1) as f64,
    };
    let online = |c: &StatusCounts| c.online;
    let offline = |c: &StatusCounts| c.online + c.offline;
    [
        band(buckets, &scale, online, |_| 0),
        band(buckets, &scale, offline, online),
        band(buckets, &scale, StatusCounts::total, offline),
    ]
}

/// The time axis under a chart: the range's start and now.
#[component]
fn TimeAxis(range: HistoryRange) -> impl IntoView {
    view! {
        <line class="axis" x1=LEFT y1=BOTTOM x2=RIGHT y2=BOTTOM />
        <text class="tick" x=LEFT y=HEIGHT - 4.0>
            {format!("{} ago", range.label())}
        </text>
        <text class="tick" x=RIGHT y=HEIGHT - 4.0 text-anchor="end">
            "now"
        </text>
    }
}

/// The stacked chart of the device statuses over the range.
#[component]
pub(super) fn StatusChart(
    buckets: Signal<Vec<Bucket>>,
    range: HistoryRange,
    now: Signal<i64>,
    summary: Signal<String>,
) -> impl IntoView {
    let drawn = Memo::new(move |_| buckets.with(|b| bands(b, range, now.get())));
    let most = move || buckets.with(|b| b.iter().map(|b| b.counts.total()).max().unwrap_or(0));
    view! {
        <svg
            class="chart history"
            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
            role="img"
            aria-labelledby="history-title history-desc"
            data-buckets=move || buckets.with(Vec::len)
        >
            <title id="history-title">
                {format!("Devices online, offline and unknown over the last {}", range.label())}
            </title>
            <desc id="history-desc">{summary}</desc>
            <line class="axis" x1=LEFT y1=TOP x2=LEFT y2=BOTTOM />
            <text class="tick" x=LEFT - 6.0 y=TOP + 8.0 text-anchor="end">
                {most}
            </text>
            <text class="tick" x=LEFT - 6.0 y=BOTTOM text-anchor="end">
                "0"
            </text>
            <TimeAxis range />
            <polygon class="band online" points=move || drawn.with(|d| d[0].clone()) />
            <polygon class="band offline" points=move || drawn.with(|d| d[1].clone()) />
            <polygon class="band unknown" points=move || drawn.with(|d| d[2].clone()) />
        </svg>
    }
    .into_any()
}

/// The rounds' longest times per bucket as bars, against the response timeout (a dashed line).
#[component]
pub(super) fn RoundChart(
    history: Vec<HistoryPoint>,
    range: HistoryRange,
    now: i64,
) -> impl IntoView {
    let timeout = history.last().map_or(0, |p| p.timeout_ms);
    let longest = history.iter().map(|p| p.round_ms_max).max().unwrap_or(0);
    let scale = Scale {
        start: now - range.span_ms(),
        span: range.span_ms() as f64,
        max: (timeout.max(longest).max(1) as f64) * 1.1,
    };
    let timeout_y = scale.y(timeout);
    let bars = history
        .iter()
        .filter_map(|point| {
            let from = millis(&point.at)?.max(scale.start);
            let x = scale.x(from);
            let width = (scale.x(from + range.bucket_ms()) - x).max(1.0);
            let y = scale.y(point.round_ms_max);
            let late = point.round_ms_max > point.timeout_ms;
            Some(view! {
                <rect
                    class=if late { "bar late" } else { "bar" }
                    x=format!("{x:.1}")
                    y=format!("{y:.1}")
                    width=format!("{width:.1}")
                    height=format!("{:.1}", BOTTOM - y)
                />
            })
        })
        .collect_view();
    view! {
        <svg
            class="chart rounds"
            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
            role="img"
            aria-labelledby="rounds-title rounds-desc"
        >
            <title id="rounds-title">
                {format!("Online-check round times over the last {}", range.label())}
            </title>
            <desc id="rounds-desc">
                {format!(
                    "The longest round took {longest} ms; the response timeout is {timeout} ms."
                )}
            </desc>
            <text class="tick" x=LEFT - 6.0 y=timeout_y + 4.0 text-anchor="end">
                {format!("{timeout} ms")}
            </text>
            <TimeAxis range />
            {bars}
            <line class="timeout" x1=LEFT y1=timeout_y x2=RIGHT y2=timeout_y />
        </svg>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn point(at_ms: i64, online: u64, offline: u64) -> HistoryPoint {
        let at = OffsetDateTime::from_unix_timestamp(at_ms / 1000)
            .unwrap()
            .format(&Rfc3339)
            .unwrap();
        HistoryPoint {
            at,
            counts: StatusCounts {
                online,
                offline,
                unknown: 0,
            },
            online_min: online,
            online_max: online,
            rounds: 1,
            round_ms_max: 10,
            round_ms_mean: 10,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn the_current_bucket_holds_the_live_counts() {
        let now = 1_000 * HOUR + 2 * 60_000; // two minutes into a five-minute bucket
        let live = StatusCounts {
            online: 3,
            offline: 7,
            unknown: 0,
        };
        let current = now - 2 * 60_000;
        let history = [point(current - 300_000, 10, 0), point(current, 10, 0)];
        let drawn = buckets(&history, HistoryRange::Day, now, live);
        assert_eq!(drawn.len(), 2);
        assert_eq!(drawn[1].counts, live);
        assert_eq!((drawn[1].from, drawn[1].to), (current, now));
        // no round yet in the current bucket: it is added
        let drawn = buckets(&history[..1], HistoryRange::Day, now, live);
        assert_eq!(drawn.len(), 2);
        assert_eq!(drawn[1].counts, live);
    }

    #[test]
    fn bands_stack_and_fall_to_zero_in_gaps() {
        let now = 1_000 * HOUR;
        let drawn = [
            Bucket {
                from: now - 2 * HOUR,
                to: now - HOUR - 1_800_000,
                counts: StatusCounts {
                    online: 2,
                    offline: 2,
                    unknown: 0,
                },
            },
            Bucket {
                from: now - HOUR,
                to: now,
                counts: StatusCounts {
                    online: 4,
                    offline: 0,
                    unknown: 0,
                },
            },
        ];
        let [online, offline, _] = bands(&drawn, HistoryRange::Day, now);
        // all online at the right end: the online band reaches the top there
        assert!(online.contains(&format!("{RIGHT:.1},{TOP:.1}")), "{online}");
        // half online at first: the offline band begins at the middle of the height
        let middle = (TOP + BOTTOM) / 2.0;
        assert!(offline.contains(&format!("{middle:.1}")), "{offline}");
        // the gap between the buckets goes down to the axis
        assert!(online.contains(&format!(",{BOTTOM:.1}")), "{online}");
    }
}

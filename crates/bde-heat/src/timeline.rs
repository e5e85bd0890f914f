//! The race, drawn: one row per VM on one time axis (cloned, powered on, port
//! made, first DHCP request, address, resets), as a table or an SVG picture, so
//! an operator sees at a glance which VMs were wired before power-on and which
//! waited for their port.

use bde_engine::State;
use plotters::prelude::*;

/// What happened to one VM, in unix seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmTimeline {
    pub name: String,
    pub cloned: Option<f64>,
    pub powered_on: Option<f64>,
    pub port_created: Option<f64>,
    /// Only the guest knows (the simulator's timeline); the engine never sees it.
    pub first_dhcp_request: Option<f64>,
    pub address: Option<f64>,
    pub resets: Vec<f64>,
}

impl VmTimeline {
    /// Whether its port existed when it was powered on; unknown until both happened.
    pub fn port_before_power_on(&self) -> Option<bool> {
        Some(self.port_created? <= self.powered_on?)
    }

    fn moments(&self) -> impl Iterator<Item = f64> + '_ {
        [
            self.cloned,
            self.powered_on,
            self.port_created,
            self.first_dhcp_request,
            self.address,
        ]
        .into_iter()
        .flatten()
        .chain(self.resets.iter().copied())
    }
}

/// The VMs the engine has seen, in the order they were cloned.
pub fn from_state(state: &State) -> Vec<VmTimeline> {
    let mut rows: Vec<VmTimeline> = state
        .nodes
        .iter()
        .map(|(name, node)| VmTimeline {
            name: name.clone(),
            cloned: node.seen_at,
            powered_on: node.powered_on_at,
            port_created: node.port_created_at,
            first_dhcp_request: None,
            address: node.address_at,
            resets: node.resets.clone(),
        })
        .collect();
    sort_by_clone(&mut rows);
    rows
}

/// Orders rows by clone time (VMs not cloned yet last), then by name.
pub fn sort_by_clone(rows: &mut [VmTimeline]) {
    rows.sort_by(|a, b| {
        let key = |r: &VmTimeline| r.cloned.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
}

/// One line: how many VMs, how many wired before power-on, how many resets.
pub fn summary(rows: &[VmTimeline]) -> String {
    summary_of(&rows.iter().collect::<Vec<_>>())
}

fn summary_of(rows: &[&VmTimeline]) -> String {
    let first = rows.iter().filter(|r| r.port_before_power_on() == Some(true)).count();
    let known = rows.iter().filter(|r| r.port_before_power_on().is_some()).count();
    let resets: usize = rows.iter().map(|r| r.resets.len()).sum();
    let plural = if resets == 1 { "" } else { "s" };
    format!(
        "{} VMs: {first} of {known} powered on with their port already made; {resets} reset{plural}",
        rows.len()
    )
}

/// The rows as a table, times in seconds from the first clone.
pub fn table(rows: &[VmTimeline]) -> String {
    let start = first_clone(rows).unwrap_or(0.0);
    let at = |t: Option<f64>| t.map_or_else(|| "-".to_string(), |t| format!("{:.1}", t - start));
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(2);
    let mut out = format!(
        "{:<width$}  {:>7}  {:>10}  {:>7}  {:>7}  {:>6}  port first\n",
        "VM", "cloned", "powered on", "port", "address", "resets"
    );
    for r in rows {
        let first = match r.port_before_power_on() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        out += &format!(
            "{:<width$}  {:>7}  {:>10}  {:>7}  {:>7}  {:>6}  {first}\n",
            r.name,
            at(r.cloned),
            at(r.powered_on),
            at(r.port_created),
            at(r.address),
            r.resets.len()
        );
    }
    out + &format!("(seconds from the first clone) {}\n", summary(rows))
}

fn first_clone(rows: &[VmTimeline]) -> Option<f64> {
    rows.iter().filter_map(|r| r.cloned).min_by(f64::total_cmp)
}

const ROW_PX: u32 = 14;
const WIDTH_PX: u32 = 1200;
const CLONED: RGBColor = RGBColor(90, 90, 90);
const POWERED_ON: RGBColor = RGBColor(31, 119, 180);
const PORT: RGBColor = RGBColor(44, 160, 44);
const DHCP: RGBColor = RGBColor(148, 103, 189);
const ADDRESS: RGBColor = RGBColor(0, 90, 0);
const RACE: RGBColor = RGBColor(214, 39, 40);
const LIFELINE: RGBColor = RGBColor(215, 215, 215);

/// The rows as an SVG picture titled `title`: a grey line per VM from its clone to
/// its last moment, a red stretch where it ran powered on without its port.
pub fn svg(title: &str, rows: &[VmTimeline]) -> Result<String, String> {
    let Some(start) = first_clone(rows) else {
        return Err("no VM has been cloned yet: nothing to draw".into());
    };
    let rows: Vec<&VmTimeline> = rows.iter().filter(|r| r.cloned.is_some()).collect();
    let end = rows.iter().flat_map(|r| r.moments()).fold(start, f64::max);
    // Room on the right for the legend.
    let span = (end - start).max(1.0) * 1.45;
    let n = rows.len();
    let label_px = (rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0) as u32 * 7 + 16).min(320);
    let height = (ROW_PX * n as u32 + 150).max(320);
    let caption = format!("{title}: {}", summary_of(&rows));
    let x = |t: f64| t - start;
    // Row i is drawn at y = -i, so the first clone is on top.
    let y = |i: usize| -(i as f64);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH_PX, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(label_px)
            .build_cartesian_2d(0.0..span, (-(n as f64) + 0.5)..0.5)
            .map_err(draw_error)?;
        let name_at = |v: &f64| {
            let i = -v.round();
            if (v.round() - v).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            rows.get(i as usize).map(|r| r.name.clone()).unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_desc("seconds since the first clone")
            .y_labels(n.min(60))
            .y_label_formatter(&name_at)
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_error)?;

        let lifelines = rows.iter().enumerate().map(|(i, r)| {
            let last = r.moments().fold(start, f64::max);
            PathElement::new(vec![(x(r.cloned.unwrap_or(start)), y(i)), (x(last), y(i))], LIFELINE)
        });
        chart.draw_series(lifelines).map_err(draw_error)?;
        let races = rows.iter().enumerate().filter_map(|(i, r)| {
            let (on, port) = (r.powered_on?, r.port_created?);
            (port > on).then(|| PathElement::new(vec![(x(on), y(i)), (x(port), y(i))], RACE.stroke_width(3)))
        });
        chart
            .draw_series(races)
            .map_err(draw_error)?
            .label("powered on without its port (the race)")
            .legend(|(px, py)| PathElement::new(vec![(px - 6, py), (px + 6, py)], RACE.stroke_width(3)));

        let points = |pick: fn(&VmTimeline) -> Option<f64>| {
            rows.iter()
                .enumerate()
                .filter_map(move |(i, r)| Some((x(pick(r)?), y(i))))
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(
                points(|r| r.cloned)
                    .into_iter()
                    .map(|p| Circle::new(p, 4, CLONED.stroke_width(1))),
            )
            .map_err(draw_error)?
            .label("cloned")
            .legend(|p| Circle::new(p, 4, CLONED.stroke_width(1)));
        chart
            .draw_series(
                points(|r| r.powered_on)
                    .into_iter()
                    .map(|p| TriangleMarker::new(p, 5, POWERED_ON.filled())),
            )
            .map_err(draw_error)?
            .label("powered on")
            .legend(|p| TriangleMarker::new(p, 5, POWERED_ON.filled()));
        chart
            .draw_series(
                points(|r| r.port_created)
                    .into_iter()
                    .map(|p| EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], PORT.filled())),
            )
            .map_err(draw_error)?
            .label("port made")
            .legend(|(px, py)| Rectangle::new([(px - 3, py - 3), (px + 3, py + 3)], PORT.filled()));
        // The address first: a guest leased at its first request shows the request on it.
        chart
            .draw_series(
                points(|r| r.address)
                    .into_iter()
                    .map(|p| Circle::new(p, 4, ADDRESS.filled())),
            )
            .map_err(draw_error)?
            .label("address")
            .legend(|p| Circle::new(p, 4, ADDRESS.filled()));
        if rows.iter().any(|r| r.first_dhcp_request.is_some()) {
            chart
                .draw_series(
                    points(|r| r.first_dhcp_request)
                        .into_iter()
                        .map(|p| Circle::new(p, 2, DHCP.filled())),
                )
                .map_err(draw_error)?
                .label("first DHCP request")
                .legend(|p| Circle::new(p, 2, DHCP.filled()));
        }
        let resets = rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.resets.iter().map(move |t| (x(*t), y(i))));
        chart
            .draw_series(resets.map(|p| Cross::new(p, 5, RACE.stroke_width(2))))
            .map_err(draw_error)?
            .label("reset")
            .legend(|p| Cross::new(p, 5, RACE.stroke_width(2)));

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

fn draw_error(e: impl std::fmt::Display) -> String {
    format!("drawing the timeline: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(name: &str, cloned: f64, on: f64, port: f64) -> VmTimeline {
        VmTimeline {
            name: name.into(),
            cloned: Some(cloned),
            powered_on: Some(on),
            port_created: Some(port),
            address: Some(on.max(port) + 2.0),
            ..VmTimeline::default()
        }
    }

    /// The red stretches drawn: a polyline three pixels wide (the legend's sample is one more).
    fn race_lines(svg: &str) -> usize {
        svg.lines()
            .filter(|l| l.contains("<polyline") && l.contains("stroke-width=\"3\""))
            .count()
    }

    #[test]
    fn rows_come_in_clone_order_and_say_whether_the_port_came_first() {
        let mut rows = vec![vm("late", 5.0, 8.0, 9.0), vm("early", 1.0, 4.0, 2.0)];
        sort_by_clone(&mut rows);
        assert_eq!(rows[0].name, "early");
        assert_eq!(rows[0].port_before_power_on(), Some(true));
        assert_eq!(rows[1].port_before_power_on(), Some(false));
        let not_on = VmTimeline {
            powered_on: None,
            ..vm("cloning", 6.0, 0.0, 7.0)
        };
        assert_eq!(not_on.port_before_power_on(), None);
        assert!(summary(&rows).contains("1 of 2 powered on with their port already made"));
    }

    #[test]
    fn the_table_shows_seconds_from_the_first_clone() {
        let table = table(&[vm("w0", 100.0, 103.0, 101.5), vm("w1", 101.0, 104.0, 106.0)]);
        let w1 = table.lines().find(|l| l.starts_with("w1")).unwrap();
        assert_eq!(
            w1.split_whitespace().collect::<Vec<_>>(),
            ["w1", "1.0", "4.0", "6.0", "8.0", "0", "no"]
        );
        assert!(
            table.lines().any(|l| l.starts_with("w0") && l.ends_with("yes")),
            "{table}"
        );
    }

    #[test]
    fn a_vm_powered_on_before_its_port_is_drawn_with_its_race_and_a_wired_one_without() {
        let wired = svg("t", &[vm("w0", 0.0, 3.0, 1.0), vm("w1", 1.0, 4.0, 2.0)]).unwrap();
        let raced = svg("t", &[vm("w0", 0.0, 3.0, 1.0), vm("w1", 1.0, 4.0, 6.0)]).unwrap();
        assert!(wired.starts_with("<svg") && wired.contains("\nw0\n") && wired.contains("\nw1\n"));
        assert_eq!(race_lines(&raced), race_lines(&wired) + 1);
        assert!(raced.contains("1 of 2 powered on with their port already made"));
    }

    #[test]
    fn resets_are_drawn_and_nothing_cloned_is_an_error() {
        let mut reset = vm("w0", 0.0, 3.0, 5.0);
        let plain = svg("t", std::slice::from_ref(&reset)).unwrap();
        reset.resets = vec![25.0, 50.0];
        let drawn = svg("t", &[reset]).unwrap();
        // A cross is two red lines (the legend's sample is one more cross).
        let crosses = |svg: &str| {
            svg.lines()
                .filter(|l| l.starts_with("<line") && l.contains("#D62728"))
                .count()
                / 2
        };
        assert_eq!(crosses(&drawn), crosses(&plain) + 2);
        assert!(drawn.contains("1 VMs: 0 of 1 powered on with their port already made; 2 resets"));
        assert!(svg("t", &[]).unwrap_err().contains("nothing to draw"));
    }
}

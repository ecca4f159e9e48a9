//! The figure: end-to-end latency against offered rate, p99 solid and p50
//! dashed, one colour per broker configuration, one panel per topology.
//! SVG only (plotters' SVG backend with its built-in text sizing: no font
//! files, nothing to install).

use plotters::prelude::*;

use super::{Series, Topology};
use crate::bench::BenchError;

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 480;

fn plot_error(error: impl std::fmt::Display) -> BenchError {
    BenchError::Task {
        what: "drawing the latency plot",
        detail: error.to_string(),
    }
}

/// One colour per broker configuration, stable across reruns.
fn colour(broker: &str) -> RGBColor {
    if broker.starts_with("Kafka") {
        RGBColor(31, 119, 180)
    } else if broker.contains("quorum") {
        RGBColor(44, 160, 44)
    } else {
        RGBColor(214, 39, 40)
    }
}

/// `(rate, ms)` of the points that have a latency figure.
fn line(series: &Series, p99: bool) -> Vec<(f64, f64)> {
    series
        .points
        .iter()
        .filter_map(|p| {
            let ms = if p99 { p.p99_ms } else { p.p50_ms }?;
            Some((p.offered_per_sec?, ms.max(0.01)))
        })
        .collect()
}

/// The SVG document.
pub fn render(series: &[Series]) -> Result<String, BenchError> {
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| line(s, true).into_iter().chain(line(s, false)))
        .collect();
    let x_max = all.iter().map(|(x, _)| *x).fold(1.0, f64::max) * 1.08;
    let y_min = all.iter().map(|(_, y)| *y).fold(f64::INFINITY, f64::min);
    let y_max = all.iter().map(|(_, y)| *y).fold(1.0, f64::max);
    let y_min = if y_min.is_finite() { y_min / 1.5 } else { 0.1 };
    let y_max = y_max * 2.0;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let panels = root.split_evenly((1, 2));
        for (panel, topology) in panels.iter().zip([Topology::Competing, Topology::Fanout]) {
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("{}: latency vs offered rate", topology.label()),
                    ("sans-serif", 17),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale())
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("offered events/s")
                .y_desc("end-to-end latency, ms (log)")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| {
                    if *y >= 1.0 {
                        format!("{y:.0}")
                    } else {
                        format!("{y:.2}")
                    }
                })
                .draw()
                .map_err(plot_error)?;
            for s in series.iter().filter(|s| s.topology == topology) {
                let c = colour(&s.broker);
                let p99 = line(s, true);
                chart
                    .draw_series(LineSeries::new(p99.clone(), c.stroke_width(2)))
                    .map_err(plot_error)?
                    .label(format!("{} p99", s.broker))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
                chart
                    .draw_series(p99.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled())))
                    .map_err(plot_error)?;
                chart
                    .draw_series(DashedLineSeries::new(
                        line(s, false),
                        6,
                        4,
                        c.stroke_width(1),
                    ))
                    .map_err(plot_error)?
                    .label(format!("{} p50 (dashed)", s.broker))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 8, y)], c.stroke_width(1))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::report::tests::series;

    #[test]
    fn renders_both_panels_with_every_broker() {
        let svg = render(&[
            series("Kafka (tansu)", Topology::Competing, [30.0, 2_500.0]),
            series("RabbitMQ (classic v2)", Topology::Competing, [3.0, 9.0]),
            series("RabbitMQ (quorum)", Topology::Fanout, [5.0, 12.0]),
        ])
        .expect("renders");
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for text in [
            "competing consumers: latency vs offered rate",
            "fanout to two groups: latency vs offered rate",
            "Kafka (tansu) p99",
            "RabbitMQ (quorum) p50 (dashed)",
            "offered events/s",
        ] {
            assert!(svg.contains(text), "missing {text:?}");
        }
    }

    #[test]
    fn renders_without_any_latency_figure() {
        let svg = render(&[]).expect("renders an empty frame");
        assert!(svg.contains("</svg>"));
    }
}

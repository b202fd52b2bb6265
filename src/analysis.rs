//! Statistics of a spike train that the field reports for this kind of network: rates per
//! population, the coefficient of variation of inter-spike intervals, and the power
//! spectrum of the population rate (the alpha and gamma rhythms of Izhikevich 2003).

use crate::record::sonata::PopulationSpikes;

#[derive(Clone, Debug)]
pub struct PopulationStats {
    pub name: String,
    pub size: u64,
    /// The neurons whose spikes were recorded (all, unless the file says otherwise).
    pub recorded: u64,
    pub spikes: u64,
    pub rate_hz: f64,
    /// Mean over neurons with at least three spikes of std/mean of their ISIs.
    pub cv_isi: Option<f64>,
}

/// Rates and ISI variability of one population of `size` neurons over `duration_ms`; the
/// rate is per recorded neuron (`PopulationSpikes::recorded`).
pub fn population_stats(pop: &PopulationSpikes, size: u64, duration_ms: f64) -> PopulationStats {
    let mut per_neuron: Vec<Vec<f64>> = vec![Vec::new(); size as usize];
    for (&t, &id) in pop.timestamps_ms.iter().zip(&pop.node_ids) {
        if let Some(list) = per_neuron.get_mut(id as usize) {
            list.push(t);
        }
    }
    let cvs: Vec<f64> = per_neuron
        .iter()
        .filter(|ts| ts.len() >= 3)
        .map(|ts| {
            let isi: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = isi.iter().sum::<f64>() / isi.len() as f64;
            let var = isi.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / isi.len() as f64;
            var.sqrt() / mean
        })
        .collect();
    let spikes = pop.timestamps_ms.len() as u64;
    let recorded = pop.recorded.unwrap_or(size);
    PopulationStats {
        name: pop.name.clone(),
        size,
        recorded,
        spikes,
        rate_hz: spikes as f64 / recorded.max(1) as f64 / (duration_ms / 1000.0),
        cv_isi: (!cvs.is_empty()).then(|| cvs.iter().sum::<f64>() / cvs.len() as f64),
    }
}

/// A population's rate (per recorded neuron, Hz) in each window of `window_ms` from 0 to
/// `duration_ms`, the last window as long as the run leaves it.
pub fn windowed_rates(pop: &PopulationSpikes, size: u64, window_ms: f64, duration_ms: f64) -> Vec<f64> {
    let windows = (duration_ms / window_ms).ceil().max(0.0) as usize;
    let mut counts = vec![0u64; windows];
    for &t in &pop.timestamps_ms {
        if let Some(c) = counts.get_mut((t / window_ms) as usize) {
            *c += 1;
        }
    }
    let recorded = pop.recorded.unwrap_or(size).max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let length_ms = (duration_ms - k as f64 * window_ms).min(window_ms);
            c as f64 / recorded / (length_ms / 1000.0)
        })
        .collect()
}

/// The inter-spike intervals of a population's neurons, as the fraction of all its
/// intervals in each bin [edges[i], edges[i+1]) (ms); intervals outside the edges are
/// counted in no bin, but in the total.
pub fn isi_distribution(pop: &PopulationSpikes, edges_ms: &[f64]) -> Vec<f64> {
    let neurons = pop.node_ids.iter().max().map_or(0, |&m| m as usize + 1);
    let mut last = vec![f64::NAN; neurons];
    let mut counts = vec![0u64; edges_ms.len().saturating_sub(1)];
    let mut total = 0u64;
    // Spikes come in time order, so each neuron's interval is from its previous spike.
    for (&t, &id) in pop.timestamps_ms.iter().zip(&pop.node_ids) {
        let previous = std::mem::replace(&mut last[id as usize], t);
        if previous.is_nan() {
            continue;
        }
        total += 1;
        let isi = t - previous;
        let bin = edges_ms.partition_point(|&e| e <= isi);
        if bin > 0 && bin < edges_ms.len() {
            counts[bin - 1] += 1;
        }
    }
    counts.iter().map(|&c| c as f64 / total.max(1) as f64).collect()
}

/// Edges spaced evenly in log from `lo` to `hi`, `per_decade` bins a decade.
pub fn log_edges(lo: f64, hi: f64, per_decade: usize) -> Vec<f64> {
    let n = ((hi / lo).log10() * per_decade as f64).ceil() as usize;
    (0..=n).map(|k| lo * 10f64.powf(k as f64 / per_decade as f64)).collect()
}

/// Spike counts of all populations together in bins of `bin_ms` over `duration_ms`.
pub fn population_rate(pops: &[PopulationSpikes], bin_ms: f64, duration_ms: f64) -> Vec<f64> {
    let bins = (duration_ms / bin_ms).round().max(1.0) as usize;
    let mut counts = vec![0f64; bins];
    for t in pops.iter().flat_map(|p| &p.timestamps_ms) {
        // A spike at the end of the run (time = duration) belongs to the last bin.
        let b = ((t / bin_ms).ceil() as usize).saturating_sub(1).min(bins - 1);
        counts[b] += 1.0;
    }
    counts
}

/// A power spectrum: `power[k]` at `freq_hz[k]`.
#[derive(Clone, Debug, Default)]
pub struct Spectrum {
    pub freq_hz: Vec<f64>,
    pub power: Vec<f64>,
}

/// Welch's estimate of the spectrum of `signal` sampled every `bin_ms`: Hann-windowed,
/// mean-removed segments of `segment_ms` (or the whole signal if shorter), half
/// overlapping, periodograms averaged. Frequency resolution is 1 / segment.
pub fn welch_spectrum(signal: &[f64], bin_ms: f64, segment_ms: f64) -> Spectrum {
    let seg = ((segment_ms / bin_ms).round() as usize).clamp(2, signal.len().max(2));
    if signal.len() < 2 {
        return Spectrum::default();
    }
    let seg = seg.min(signal.len());
    let window: Vec<f64> = (0..seg).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / seg as f64).cos()).collect();
    let half = seg / 2;
    let mut power = vec![0f64; half + 1];
    let mut segments = 0;
    let mut start = 0;
    // Twiddle factors once: a plain DFT up to Nyquist is cheap at these lengths.
    let cos_table: Vec<f64> = (0..seg).map(|i| (std::f64::consts::TAU * i as f64 / seg as f64).cos()).collect();
    let sin_table: Vec<f64> = (0..seg).map(|i| (std::f64::consts::TAU * i as f64 / seg as f64).sin()).collect();
    while start + seg <= signal.len() {
        let piece = &signal[start..start + seg];
        let mean = piece.iter().sum::<f64>() / seg as f64;
        let x: Vec<f64> = piece.iter().zip(&window).map(|(v, w)| (v - mean) * w).collect();
        for (k, p) in power.iter_mut().enumerate() {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, xi) in x.iter().enumerate() {
                let j = (i * k) % seg;
                re += xi * cos_table[j];
                im -= xi * sin_table[j];
            }
            *p += re * re + im * im;
        }
        segments += 1;
        start += (seg / 2).max(1);
    }
    power.iter_mut().for_each(|p| *p /= segments as f64);
    let df = 1000.0 / (seg as f64 * bin_ms);
    Spectrum { freq_hz: (0..=half).map(|k| k as f64 * df).collect(), power }
}

impl Spectrum {
    /// Frequency and power of the largest peak with lo ≤ f < hi (DC excluded).
    pub fn peak_in(&self, lo: f64, hi: f64) -> Option<(f64, f64)> {
        self.freq_hz
            .iter()
            .zip(&self.power)
            .filter(|(f, _)| **f >= lo && **f < hi && **f > 0.0)
            .map(|(f, p)| (*f, *p))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Mean power over all frequencies above 0.
    pub fn mean_power(&self) -> f64 {
        let p: Vec<f64> = self.freq_hz.iter().zip(&self.power).filter(|(f, _)| **f > 0.0).map(|(_, p)| *p).collect();
        p.iter().sum::<f64>() / p.len().max(1) as f64
    }

    /// Averages spectra of equal shape (e.g. over seeds).
    pub fn average(spectra: &[Spectrum]) -> Spectrum {
        let mut out = spectra[0].clone();
        for s in &spectra[1..] {
            out.power.iter_mut().zip(&s.power).for_each(|(a, b)| *a += b);
        }
        out.power.iter_mut().for_each(|p| *p /= spectra.len() as f64);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_rates_count_each_window_and_scale_the_last_by_its_length() {
        let pop = PopulationSpikes {
            name: "p".into(),
            size: Some(2),
            recorded: None,
            timestamps_ms: vec![0.0, 999.9, 1000.0, 1000.5, 2100.0],
            node_ids: vec![0, 1, 0, 1, 0],
        };
        // Windows [0, 1000), [1000, 2000), [2000, 2500): 2, 2 and 1 spikes of 2 neurons.
        assert_eq!(windowed_rates(&pop, 2, 1000.0, 2500.0), vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn finds_a_sine_frequency() {
        let signal: Vec<f64> = (0..4000)
            .map(|i| {
                (std::f64::consts::TAU * 8.0 * i as f64 / 1000.0).sin() + 0.3 * (std::f64::consts::TAU * 40.0 * i as f64 / 1000.0).sin()
            })
            .collect();
        let s = welch_spectrum(&signal, 1.0, 1000.0);
        assert_eq!(s.peak_in(1.0, 15.0).unwrap().0, 8.0);
        assert_eq!(s.peak_in(30.0, 50.0).unwrap().0, 40.0);
        assert!(s.peak_in(30.0, 50.0).unwrap().1 > s.mean_power());
    }

    #[test]
    fn rates_and_cv() {
        // Neuron 0 fires regularly every 10 ms (CV 0); neuron 1 never.
        let ts: Vec<f64> = (1..=100).map(|k| k as f64 * 10.0).collect();
        let pop = PopulationSpikes { name: "p".into(), size: Some(2), node_ids: vec![0; ts.len()], timestamps_ms: ts, recorded: None };
        let s = population_stats(&pop, 2, 1000.0);
        assert_eq!(s.rate_hz, 50.0);
        assert_eq!(s.cv_isi, Some(0.0));
        let rate = population_rate(&[pop], 1.0, 1000.0);
        assert_eq!(rate.iter().sum::<f64>(), 100.0);
        assert_eq!(rate[9], 1.0);
        assert_eq!(rate[999], 1.0);
    }

    /// Each neuron's intervals from its own previous spike, as fractions per bin.
    #[test]
    fn isi_distribution_counts_each_neurons_own_intervals() {
        let pop = PopulationSpikes {
            name: "p".into(),
            size: Some(3),
            recorded: None,
            // neuron 0 at 1, 3, 13 ms (intervals 2 and 10); neuron 2 at 2, 102 (100).
            timestamps_ms: vec![1.0, 2.0, 3.0, 13.0, 102.0],
            node_ids: vec![0, 2, 0, 0, 2],
        };
        let edges = [1.0, 5.0, 50.0];
        let fractions = isi_distribution(&pop, &edges);
        assert_eq!(fractions, [1.0 / 3.0, 1.0 / 3.0]);
        let edges = log_edges(1.0, 1000.0, 4);
        assert_eq!(edges.len(), 13);
        assert!((edges[4] - 10.0).abs() < 1e-12 && (edges[12] - 1000.0).abs() < 1e-9);
    }
}

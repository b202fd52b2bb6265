//! `volley bench-exchange`: the spike exchange alone, timed for the scaling model.

use super::*;

pub(super) fn bench_exchange(args: BenchExchangeArgs, rank: &mut usize) -> Result<ExitCode> {
    let BenchExchangeArgs { spikes, steps, epochs } = args;
    let mut comm = volley::comm::from_launcher()?;
    *rank = comm.rank();
    if steps == 0 {
        return Err(Error::Option { option: "--steps".into(), message: "expected at least 1 step per epoch".into() });
    }
    if comm.rank() == 0 {
        println!("ranks,spikes_per_rank,steps_per_epoch,us_per_exchange_min,us_per_exchange_median,us_per_exchange_max");
    }
    for k in spikes {
        let mine = volley::comm::time_exchange(comm.as_mut(), k, steps, epochs);
        let mut all = comm.all_gather_f64(&[mine * 1e6]);
        all.sort_by(f64::total_cmp);
        if comm.rank() == 0 {
            println!("{},{k},{steps},{:.2},{:.2},{:.2}", comm.size(), all[0], all[all.len() / 2], all[all.len() - 1]);
        }
    }
    Ok(ExitCode::SUCCESS)
}

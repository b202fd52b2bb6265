//! The errors a user can cause (bad model file, bad option, unwritable output) and the
//! ones the machine or the model can during a run. The CLI prints one line, never a
//! backtrace, and exits with a code that tells them apart (the guide, "Running: the command line", "Exit codes"):
//! 2 bad input, 3 a state that left the finite numbers, 4 an output that could not be
//! written during the run, 75 stopped by a signal with a checkpoint written, 1 anything
//! else.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model file is wrong: names the file, where, the field and what was expected.
    #[error("{file}{location}: {field}: {message}")]
    Model { file: String, location: String, field: String, message: String },

    /// A command-line value is wrong.
    #[error("{option}: {message}")]
    Option { option: String, message: String },

    /// The output cannot be written where it was asked to go.
    #[error("cannot write output to {path}: {message}")]
    Output { path: PathBuf, message: String },

    /// An input file (model file, spike file) cannot be read.
    #[error("cannot read {path}: {message}")]
    Input { path: PathBuf, message: String },

    /// The run needs more memory than it may use.
    #[error("{0}")]
    Memory(String),

    /// Writing an output failed during the run (no space, quota, I/O error); the
    /// message says how far the run got and what the file holds.
    #[error("writing {path} failed: {message}")]
    Write { path: PathBuf, message: String },

    /// A neuron's state became NaN or infinite; the message names it and the time.
    #[error("{0}")]
    NonFinite(String),

    /// Something failed while running that the user did not cause.
    #[error("{0}")]
    Runtime(String),

    /// Another MPI rank failed and printed its error; this rank stops with it, and with
    /// its exit code: mpirun reports whichever rank exits first, so all must agree.
    #[error("another rank failed (its error is printed above)")]
    OtherRank { exit_code: i32 },

    /// A run refused on the planner's figures: the error's line, then the plan.
    #[error("{error}\n{plan}")]
    Planned { error: Box<Error>, plan: String },

    /// This error was printed already; the process exits with its code.
    #[error("the error is printed above")]
    Reported { exit_code: i32 },
}

impl Error {
    /// Exit code: 2 for bad input, 3 for non-finite state, 4 for a failed write, 1 for
    /// other failures of the run itself.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Model { .. } | Error::Option { .. } | Error::Output { .. } | Error::Input { .. } | Error::Memory(_) => 2,
            Error::NonFinite(_) => EXIT_NON_FINITE,
            Error::Write { .. } => EXIT_WRITE_FAILED,
            Error::Runtime(_) => 1,
            Error::OtherRank { exit_code } | Error::Reported { exit_code } => *exit_code,
            Error::Planned { error, .. } => error.exit_code(),
        }
    }
}

impl From<hdf5::Error> for Error {
    fn from(e: hdf5::Error) -> Self {
        Error::Runtime(format!("HDF5: {e}"))
    }
}

/// Exit code of a run stopped because a state became NaN or infinite.
pub const EXIT_NON_FINITE: i32 = 3;
/// Exit code of a run stopped because an output could not be written.
pub const EXIT_WRITE_FAILED: i32 = 4;
/// Exit code of a run stopped by a signal (Slurm's warning before its time limit) after
/// writing a checkpoint: sysexits' EX_TEMPFAIL, "try again" — a job script requeues on it.
pub const EXIT_CHECKPOINTED: i32 = 75;

pub type Result<T> = std::result::Result<T, Error>;

//! The errors a user can cause (bad model file, bad option, unwritable output) and the
//! ones the machine can (I/O, HDF5). The CLI exits with code 2 for the first kind and 1
//! for the second, printing one line, never a backtrace.

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

    /// Something failed while running that the user did not cause.
    #[error("{0}")]
    Runtime(String),

    /// Another MPI rank failed and printed its error; this rank stops with it.
    #[error("another rank failed (its error is printed above)")]
    OtherRank,
}

impl Error {
    /// Exit code: 2 for bad input, 1 for failures of the run itself.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Model { .. } | Error::Option { .. } | Error::Output { .. } | Error::Input { .. } | Error::Memory(_) => 2,
            Error::Runtime(_) | Error::OtherRank => 1,
        }
    }
}

impl From<hdf5::Error> for Error {
    fn from(e: hdf5::Error) -> Self {
        Error::Runtime(format!("HDF5: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

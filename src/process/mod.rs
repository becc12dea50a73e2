//! OS processes as children: for now the capture of their output ([`output`]).

pub mod output;

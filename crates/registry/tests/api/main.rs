//! Black-box tests of the registry server and client against a real tansu
//! broker over TCP. One binary, one module per concern.

mod helpers;
mod http;
mod interop;
mod register;
mod restart;
mod startup;

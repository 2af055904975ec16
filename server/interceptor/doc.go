// Package interceptor holds the gRPC interceptors that run for every call on both transports
// (REST calls reach them through the gateway's connection to the gRPC server): request ids,
// logging, error normalization, panic recovery and protovalidate validation. Chain builds them in
// the one order that is correct; auth sits between recovery and validation and is passed in.
package interceptor

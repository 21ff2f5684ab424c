// Package epoll is a Linux epoll instance for one goroutine to wait on
// without holding a processor: the instance is handed to the Go runtime's
// own network poller (an epoll instance can be watched by another), and
// its events are taken with raw epoll_wait calls that do not wait. A
// blocking epoll_wait would hold one of the runtime's processors in a
// system call while idle, so that the goroutines made runnable meanwhile
// wait for the runtime's monitor to take it back; and every system call
// made with the runtime's bookkeeping after an idle spell wakes that
// monitor, which then polls every 20 µs for a while. The server's
// WebSocket poller and the load tool's pollers use it. Elsewhere than on
// Linux it holds only Table, the map from tokens to what they stand for.
package epoll

#include "net/arp/arp_cache.h"

#include <algorithm>

namespace demi::net {

const char* arp_state_name(ArpCache::State s) {
  switch (s) {
    case ArpCache::State::Incomplete: return "incomplete";
    case ArpCache::State::Reachable: return "reachable";
    case ArpCache::State::Failed: return "failed";
    case ArpCache::State::Permanent: return "permanent";
  }
  return "?";
}

uint32_t ArpCache::key(wire::Ipv4Address ip) { return ip.to_u32(); }

ArpCache::Entry* ArpCache::find(wire::Ipv4Address ip) {
  auto it = entries_.find(key(ip));
  return it == entries_.end() ? nullptr : &it->second;
}

const ArpCache::Entry* ArpCache::find(wire::Ipv4Address ip) const {
  auto it = entries_.find(key(ip));
  return it == entries_.end() ? nullptr : &it->second;
}

std::optional<wire::EthernetAddress> ArpCache::lookup(wire::Ipv4Address ip, sched::Instant now) const {
  const Entry* e = find(ip);
  if (!e) return std::nullopt;
  if (e->state == State::Permanent || (e->state == State::Reachable && now < e->deadline)) return e->mac;
  return std::nullopt;
}

bool ArpCache::failed(wire::Ipv4Address ip, sched::Instant now) const {
  const Entry* e = find(ip);
  return e && e->state == State::Failed && now < e->deadline;
}

ArpCache::Entry& ArpCache::resolve(wire::Ipv4Address ip, sched::Instant now) {
  Entry& e = entries_[key(ip)];
  if (e.state != State::Incomplete || e.requests == 0) {
    // New, or an expired Reachable / Failed entry: start over. The queue is empty in all these.
    e.state = State::Incomplete;
    e.requests = 0;
    e.deadline = now;
    e.queue.clear();
  }
  return e;
}

bool ArpCache::merge(wire::Ipv4Address ip, const wire::EthernetAddress& mac, sched::Instant now,
                     std::vector<runtime::TxFrame>* released) {
  Entry* e = find(ip);
  if (!e) return false;
  if (e->state == State::Permanent) return true;  // configured: the wire does not override it
  if (e->state == State::Incomplete) {
    for (runtime::TxFrame& f : e->queue) released->push_back(std::move(f));
    e->queue.clear();
    e->requests = 0;
  }
  e->state = State::Reachable;
  e->mac = mac;
  e->deadline = now + config_.entry_timeout;
  return true;
}

void ArpCache::add(wire::Ipv4Address ip, const wire::EthernetAddress& mac, sched::Instant now) {
  Entry& e = entries_[key(ip)];
  if (e.state == State::Permanent) return;
  e.state = State::Reachable;
  e.mac = mac;
  e.deadline = now + config_.entry_timeout;
  e.requests = 0;
  e.queue.clear();
}

void ArpCache::add_permanent(wire::Ipv4Address ip, const wire::EthernetAddress& mac) {
  Entry& e = entries_[key(ip)];
  e.state = State::Permanent;
  e.mac = mac;
  e.requests = 0;
  e.queue.clear();
}

void ArpCache::request_sent(Entry& e, sched::Instant now) const {
  // The wait after request n (from 0) is request_timeout * 2^n: exponential backoff.
  e.deadline = now + config_.request_timeout * (int64_t{1} << e.requests);
  ++e.requests;
}

void ArpCache::fail(wire::Ipv4Address ip, sched::Instant now, std::vector<runtime::TxFrame>* dropped) {
  auto it = entries_.find(key(ip));
  if (it == entries_.end()) return;
  Entry& e = it->second;
  for (runtime::TxFrame& f : e.queue) dropped->push_back(std::move(f));
  if (config_.failure_hold.count() == 0) {
    entries_.erase(it);
    return;
  }
  e.queue.clear();
  e.state = State::Failed;
  e.requests = 0;
  e.deadline = now + config_.failure_hold;
}

std::vector<wire::Ipv4Address> ArpCache::due(sched::Instant now) const {
  std::vector<uint32_t> keys;
  for (const auto& [k, e] : entries_)
    if (e.state == State::Incomplete && e.deadline <= now) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  std::vector<wire::Ipv4Address> out;
  out.reserve(keys.size());
  for (uint32_t k : keys) out.push_back(wire::Ipv4Address::from_u32(k));
  return out;
}

std::optional<sched::Instant> ArpCache::next_deadline() const {
  std::optional<sched::Instant> next;
  for (const auto& [k, e] : entries_)
    if (e.state == State::Incomplete && (!next || e.deadline < *next)) next = e.deadline;
  return next;
}

std::size_t ArpCache::sweep(sched::Instant now) {
  return std::erase_if(entries_, [now](const auto& kv) {
    const Entry& e = kv.second;
    return (e.state == State::Reachable || e.state == State::Failed) && e.deadline <= now;
  });
}

}  // namespace demi::net

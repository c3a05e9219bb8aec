#!/usr/bin/env python3
"""tests/aws/proxy.py: a small fault-injecting HTTP proxy in front of
moto_server for the aws test stage. moto never throttles, never returns
insufficient capacity and refuses SSM parameters under /aws/; this proxy
adds exactly those answers, on rules the test sets, and forwards the rest
unchanged.

Usage: proxy.py LISTEN_PORT UPSTREAM_URL   (loopback only)
Control (JSON, on the same port):
  POST /_proxy/rules  {"throttle": {"Action": N}, "fail5xx": {"Action": N}, "hold_ms": {"Action": MS},
                       "ice": ["spot:m5.large:us-east-1a", ...],
                       "ssm": {"/aws/service/...": "ami-..."},
                       "delay_ms": 0, "auth_fail": false,   (true: every call; ["Action", ...]: those only)
                       "crs": [{"id": "cr-1", "type": "m5.large", "zone": "us-east-1a", "total": 1,
                                "avail": 1, "owner": "123456789012", "match": "targeted",
                                "tags": {"k": "v"}}],
                       "pricing": {"m5.large": 0.5}}   (replaces all rules)
  "crs": moto has no capacity reservations: the proxy answers
  DescribeCapacityReservations from this list (filters state, owner-id,
  instance-match-criteria, tag:K, tag-key, CapacityReservationId.N) and
  takes one from "avail" for every instance a CreateFleet of capacity type
  reserved-capacity gets in the reservation's type and zone (sent to moto
  as on-demand, which it understands).
  "pricing": moto has no Pricing API: GetProducts is answered with one
  PriceList entry (a JSON string, as AWS sends it) per type and price.
  GET  /_proxy/log    [{"action", "token", "t"}...]  every request seen
  GET  /_proxy/inflight {"Action": N}  calls being forwarded (or held) right now
  POST /_proxy/reset  clears rules and log
"""
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
RULES = {}
LOG = []
UPSTREAM = ""
INFLIGHT = {}   # action -> calls being forwarded or held now


def ice_xml(items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<CreateFleetResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>proxy</requestId>'
           '<fleetId>fleet-proxy</fleetId><errorSet>']
    out.append(error_items(items))
    out.append('</errorSet><fleetInstanceSet/></CreateFleetResponse>')
    return "".join(out).encode()


def error_items(items):
    s = []
    for it in items:
        s.append('<item><launchTemplateAndOverrides><launchTemplateSpecification><launchTemplateName>%s'
                 '</launchTemplateName><version>$Latest</version></launchTemplateSpecification><overrides>'
                 '<instanceType>%s</instanceType><subnetId>%s</subnetId><availabilityZone>%s</availabilityZone>'
                 '</overrides></launchTemplateAndOverrides><lifecycle>%s</lifecycle>'
                 '<errorCode>InsufficientInstanceCapacity</errorCode><errorMessage>We currently do not have '
                 'sufficient %s capacity in the Availability Zone you requested (%s).</errorMessage></item>'
                 % (it["lt"], it["type"], it["subnet"], it["zone"], it["captype"], it["type"], it["zone"]))
    return "".join(s)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="text/xml", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def creds(self, src):
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return json.dumps({"AccessKeyId": "ASIA" + src.upper(), "SecretAccessKey": "secret-" + src,
                           "Token": "token-" + src, "Expiration": exp, "Code": "Success"}).encode()

    action = ""

    def do_GET(self):
        # credential endpoints: EKS Pod Identity (container) and IMDSv2
        if self.path == "/_proxy/container-creds":
            if self.headers.get("Authorization") != "pod-identity-token":
                return self.reply(401, b"bad token", "text/plain")
            return self.reply(200, self.creds("container"), "application/json")
        if self.path.startswith("/latest/meta-data/"):
            if self.headers.get("X-aws-ec2-metadata-token") != "imds-token":
                return self.reply(401, b"", "text/plain")
            if self.path == "/latest/meta-data/iam/security-credentials/":
                return self.reply(200, b"node-role", "text/plain")
            if self.path == "/latest/meta-data/iam/security-credentials/node-role":
                return self.reply(200, self.creds("imds"), "text/plain")
            if self.path == "/latest/meta-data/placement/region":
                return self.reply(200, b"us-east-1", "text/plain")
            return self.reply(404, b"", "text/plain")
        if self.path == "/_proxy/inflight":
            with LOCK:
                body = json.dumps(INFLIGHT).encode()
            return self.reply(200, body, "application/json")
        if self.path == "/_proxy/log":
            with LOCK:
                body = json.dumps(LOG).encode()
            return self.reply(200, body, "application/json")
        self.forward(b"")

    def do_PUT(self):
        if self.path == "/latest/api/token":
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(400, b"", "text/plain")
            return self.reply(200, b"imds-token", "text/plain")
        self.do_POST()

    def do_DELETE(self):
        self.do_POST()

    def do_POST(self):
        global RULES, LOG
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/_proxy/rules":
            with LOCK:
                RULES = json.loads(body or b"{}")
            return self.reply(200, b"{}", "application/json")
        if self.path == "/_proxy/reset":
            with LOCK:
                RULES = {}
                LOG = []
            return self.reply(200, b"{}", "application/json")
        target = self.headers.get("X-Amz-Target") or ""
        form = {}
        if not target and body:
            form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        action = target.split(".")[-1] if target else form.get("Action", "")
        self.action = action
        with LOCK:
            LOG.append({"action": action, "token": form.get("ClientToken", ""), "t": time.time()})
            if action == "CreateFleet":  # the fleet's override types, for the launch-filter checks
                LOG[-1]["types"] = sorted({v for k, v in form.items() if k.endswith(".InstanceType")})
            rules = RULES
            left = rules.get("throttle", {}).get(action, 0)
            if left:
                rules["throttle"][action] = left - 1
            left5 = rules.get("fail5xx", {}).get(action, 0)
            if left5:
                rules["fail5xx"][action] = left5 - 1
        if rules.get("delay_ms") and not target:
            time.sleep(rules["delay_ms"] / 1000.0)
        af = rules.get("auth_fail")
        if af is True or (isinstance(af, list) and action in af):
            return self.reply(401, b'<?xml version="1.0"?><Response><Errors><Error><Code>AuthFailure</Code>'
                              b'<Message>AWS was not able to validate the provided access credentials</Message>'
                              b'</Error></Errors><RequestID>proxy</RequestID></Response>')
        if left:
            return self.reply(503, b'<?xml version="1.0"?><Response><Errors><Error><Code>RequestLimitExceeded'
                              b'</Code><Message>Request limit exceeded.</Message></Error></Errors>'
                              b'<RequestID>proxy</RequestID></Response>')
        if left5:
            return self.reply(500, b'<?xml version="1.0"?><Response><Errors><Error><Code>InternalError</Code>'
                              b'<Message>injected</Message></Error></Errors></Response>')
        if target == "AmazonSSM.GetParameter":
            name = json.loads(body or b"{}").get("Name", "")
            val = rules.get("ssm", {}).get(name)
            if val is not None:
                ans = {"Parameter": {"Name": name, "Type": "String", "Value": val, "Version": 1,
                                     "DataType": "aws:ec2:image"}}
                return self.reply(200, json.dumps(ans).encode(), "application/x-amz-json-1.1")
        if target == "AWSPriceListService.GetProducts" and "pricing" in rules:
            return self.reply(200, json.dumps({"FormatVersion": "aws_v1", "PriceList": [json.dumps({
                "product": {"productFamily": "Compute Instance",
                            "attributes": {"instanceType": t, "operatingSystem": "Linux"}},
                "terms": {"OnDemand": {"SKU.JRTCKXETXF": {"priceDimensions": {"SKU.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": "Hrs", "pricePerUnit": {"USD": "%.6f" % p}}}}}}})
                for t, p in rules["pricing"].items()]}).encode(), "application/x-amz-json-1.1")
        if action == "DescribeCapacityReservations" and "crs" in rules:
            return self.reply(200, self.describe_crs(form, rules["crs"]))
        if action == "CreateFleet" and form.get("TargetCapacitySpecification.DefaultTargetCapacityType") == \
                "reserved-capacity" and "crs" in rules:
            return self.create_fleet_reserved(body, form, rules)
        if action == "CreateFleet" and rules.get("ice"):
            return self.create_fleet(body, form, rules)
        self.forward(body)

    def describe_crs(self, form, crs):
        ids = [v for k, v in form.items() if k.startswith("CapacityReservationId.")]
        filt = {}
        for k, v in form.items():
            p = k.split(".")
            if p[0] == "Filter" and len(p) == 3 and p[2] == "Name":
                filt[v] = [fv for fk, fv in form.items() if fk.startswith("Filter.%s.Value." % p[1])]
        out = ['<?xml version="1.0" encoding="UTF-8"?><DescribeCapacityReservationsResponse '
               'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>proxy</requestId>'
               '<capacityReservationSet>']
        for c in crs:
            tags = c.get("tags", {})
            ok = (not ids or c["id"] in ids) and \
                "active" in filt.get("state", ["active"]) and \
                c.get("owner", "123456789012") in filt.get("owner-id", [c.get("owner", "123456789012")]) and \
                c.get("match", "targeted") in filt.get("instance-match-criteria", [c.get("match", "targeted")])
            for name, vals in filt.items():
                if name == "tag-key":
                    ok = ok and any(v in tags for v in vals)
                elif name.startswith("tag:"):
                    ok = ok and tags.get(name[4:]) in vals
            if not ok:
                continue
            out.append('<item><capacityReservationId>%s</capacityReservationId><ownerId>%s</ownerId>'
                       '<instanceType>%s</instanceType><instancePlatform>Linux/UNIX</instancePlatform>'
                       '<availabilityZone>%s</availabilityZone><tenancy>default</tenancy>'
                       '<totalInstanceCount>%d</totalInstanceCount><availableInstanceCount>%d'
                       '</availableInstanceCount><state>active</state><instanceMatchCriteria>%s'
                       '</instanceMatchCriteria><endDateType>unlimited</endDateType><tagSet>%s</tagSet></item>'
                       % (c["id"], c.get("owner", "123456789012"), c["type"], c["zone"], c["total"], c["avail"],
                          c.get("match", "targeted"),
                          "".join("<item><key>%s</key><value>%s</value></item>" % kv for kv in tags.items())))
        out.append('</capacityReservationSet></DescribeCapacityReservationsResponse>')
        return "".join(out).encode()

    def create_fleet_reserved(self, body, form, rules):
        out = [(k, "on-demand" if k == "TargetCapacitySpecification.DefaultTargetCapacityType" else v)
               for k, v in form.items()]
        code, hdrs, ans = self.upstream(urllib.parse.urlencode(out).encode())
        if code == 200:
            text = ans.decode()
            n = text.count("<instanceIds>") and text.split("<instanceIds>", 1)[1].split("</instanceIds>")[0].count("<item>")
            itype = text.split("<instanceType>")[1].split("</instanceType>")[0] if "<instanceType>" in text else ""
            zone = text.split("<availabilityZone>")[1].split("</availabilityZone>")[0] \
                if "<availabilityZone>" in text else ""
            with LOCK:
                for c in rules["crs"]:
                    if c["type"] == itype and c["zone"] == zone:
                        c["avail"] = max(0, c["avail"] - n)
                        break
        self.reply(code, ans, hdrs.get("Content-Type", "text/xml"))

    def create_fleet(self, body, form, rules):
        ice = set(rules["ice"])
        captype = form.get("TargetCapacitySpecification.DefaultTargetCapacityType", "on-demand")
        keep, failed = [], []
        # group override keys by (config, override) index
        ovs = {}
        for k, v in form.items():
            p = k.split(".")
            if len(p) == 5 and p[0] == "LaunchTemplateConfigs" and p[2] == "Overrides":
                ovs.setdefault((int(p[1]), int(p[3])), {})[p[4]] = v
        lts = {}
        for k, v in form.items():
            p = k.split(".")
            if len(p) == 4 and p[0] == "LaunchTemplateConfigs" and p[3] == "LaunchTemplateName":
                lts[int(p[1])] = v
        for key in sorted(ovs):
            o = ovs[key]
            tag = "%s:%s:%s" % (captype, o.get("InstanceType", ""), o.get("AvailabilityZone", ""))
            if tag in ice:
                failed.append({"lt": lts.get(key[0], ""), "type": o.get("InstanceType", ""),
                               "subnet": o.get("SubnetId", ""), "zone": o.get("AvailabilityZone", ""),
                               "captype": captype})
            else:
                keep.append(key)
        if not keep:
            return self.reply(200, ice_xml(failed))
        # rebuild the form with the surviving overrides renumbered
        out = []
        for k, v in form.items():
            p = k.split(".")
            if len(p) == 5 and p[0] == "LaunchTemplateConfigs" and p[2] == "Overrides":
                continue
            out.append((k, v))
        per = {}
        for (c, i) in keep:
            per.setdefault(c, []).append(i)
        for c, idx in per.items():
            for n, i in enumerate(idx, 1):
                for f, v in ovs[(c, i)].items():
                    out.append(("LaunchTemplateConfigs.%d.Overrides.%d.%s" % (c, n, f), v))
        nb = urllib.parse.urlencode(out).encode()
        code, hdrs, ans = self.upstream(nb)
        if code == 200 and failed:
            ans = ans.replace(b"<fleetInstanceSet>", b"<errorSet>" + error_items(failed).encode() +
                              b"</errorSet><fleetInstanceSet>", 1)
        self.reply(code, ans, hdrs.get("Content-Type", "text/xml"))

    def upstream(self, body):
        req = urllib.request.Request(UPSTREAM + self.path, data=body if self.command != "GET" else None,
                                     method=self.command)
        for k, v in self.headers.items():
            if k.lower() in ("host", "content-length", "connection", "accept-encoding"):
                continue
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()
        except Exception as e:  # upstream down: a transport-like failure
            return 502, {"Content-Type": "text/plain"}, ("proxy: upstream: %s" % e).encode()

    def forward(self, body):
        with LOCK:
            INFLIGHT[self.action] = INFLIGHT.get(self.action, 0) + 1
        try:
            code, hdrs, ans = self.upstream(body)
            with LOCK:
                hold = RULES.get("hold_ms", {}).get(self.action, 0)
            if hold:  # the call took effect upstream; the answer comes late
                time.sleep(hold / 1000.0)
        finally:
            with LOCK:
                INFLIGHT[self.action] -= 1
        extra = {}
        for k in ("x-amzn-RequestId", "x-amzn-query-error"):
            for hk, hv in hdrs.items():
                if hk.lower() == k.lower():
                    extra[k] = hv
        self.reply(code, ans, hdrs.get("Content-Type", "text/xml"), extra)


def main():
    global UPSTREAM
    port = int(sys.argv[1])
    UPSTREAM = sys.argv[2].rstrip("/")
    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()

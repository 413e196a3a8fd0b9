#!/usr/bin/env python3
"""Reads kedge_status's JSON on stdin (json.load: it must parse) and
prints what t/021-status.t asks for, one line per item:

    routes      each route, its keys sorted
    adhoc       each adhoc rule, its keys sorted
    backends    each backend: protocol, source, target, tls, state, endpoints
    kube        the k8s= backend "kube": state, watch, endpoints
    sync        the same backend's counters, as bounds
    set_aside   each endpoint set aside, with bounds on the time left
"""

import json
import sys


def main():
    status = json.load(sys.stdin)

    for top in ("version", "nginx", "time", "zone", "routes", "adhoc",
                "backends",
                "issuers", "set_aside"):
        if top not in status:
            sys.exit("no %r in the status" % top)

    backends = {b["name"]: b for b in status["backends"]}

    for what in sys.argv[1:]:
        if what == "routes":
            for r in status["routes"]:
                print("route", json.dumps(r, sort_keys=True))

        elif what == "adhoc":
            for r in status["adhoc"]:
                print("adhoc", json.dumps(r, sort_keys=True))

        elif what == "backends":
            for b in status["backends"]:
                print("backend %s %s %s target=%s tls=%s state=%s endpoints=%s"
                      % (b["name"], b["protocol"], b["source"], b["target"],
                         b["tls"], b["state"], b["endpoints"]))

        elif what == "kube":
            b = backends["kube"]
            print("kube", b["state"], b["watch"], sorted(b["endpoints"]))

        elif what == "sync":
            b = backends["kube"]
            print("kube generation>=%d syncs>=%d failures=%d "
                  "seconds_since_sync<%d"
                  % (min(b["generation"], 3), min(b["syncs"], 3),
                     b["failures"],
                     5 if 0 <= b["seconds_since_sync"] < 5 else 999))

        elif what == "set_aside":
            for a in status["set_aside"]:
                ok = 0 < a["ms_left"] <= 2000
                print("set aside %s for %s" % (
                    a["endpoint"], "0 < ms <= 2000" if ok else a["ms_left"]))

        else:
            sys.exit("unknown: " + what)


main()

# Unit tests of the pure-C decoder of the Kubernetes wire format
# (t/unit/run.sh: built with ASan and UBSan, vectors from python3-protobuf).
use FindBin;
exec("$FindBin::Bin/unit/run.sh") or die "t/unit/run.sh: $!";

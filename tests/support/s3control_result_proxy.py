"""The shared fault proxy (shared/tools/fault_proxy.py, or $S3FIX_FAULT_PROXY) that also renames
the XML root of moto's S3 Control access point answers: moto 5.2.5 answers `GetAccessPoint` with
`<GetAccessPointResponse>` where AWS (and the Rust SDK's parser) use `<GetAccessPointResult>`;
the same for CreateAccessPoint, GetAccessPointPolicy and GetAccessPointPolicyStatus. Nothing else
in the answer changes.
usage: python s3control_result_proxy.py LISTEN_PORT UPSTREAM_PORT
If the shared proxy's response line changes, this wrapper refuses to start."""
import os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("S3FIX_FAULT_PROXY") or os.path.join(HERE, "..", "..", "..", "shared", "tools", "fault_proxy.py")
READ = "r = c.getresponse(); data = r.read()"
ROOT = re.compile(rb"<(/?)((?:Create|Get)AccessPoint(?:Policy|PolicyStatus)?)Response([ >])")


def _fix(path, data):
    if "/v20180820/accesspoint" not in path:
        return data
    return ROOT.sub(rb"<\1\2Result\3", data)


source = open(SHARED).read()
if READ not in source:
    sys.exit(f"s3control_result_proxy: {SHARED} no longer has the response line this wrapper patches")
source = source.replace(READ, READ + "; data = _fix(self.path, data)")
namespace = {"__name__": "__main__", "__file__": SHARED, "_fix": _fix}
exec(compile(source, SHARED, "exec"), namespace)

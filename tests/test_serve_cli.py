"""``daekit serve`` on the command line: model specs, errors, and a real uvicorn start."""

import http.client
import json
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from serve_models import shared_models

from daekit.cli import main
from daekit.serve import parse_model_specs


def test_model_specs_parse_and_refuse_bad_ones():
    assert parse_model_specs(["gray=a/b", "x_1.v2=c=d"]) == {"gray": "a/b", "x_1.v2": "c=d"}
    for bad, words in [
        (["gray"], "NAME=DIR"),
        (["=dir"], "NAME=DIR"),
        (["a b=dir"], "letters"),
        (["g=a", "g=b"], "twice"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_model_specs(bad)


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--model", "m=/no/such/folder"], "not a model folder"),
        (["--model", "nonsense"], "NAME=DIR"),
        (["--port", "70000"], "argument --port: must be a port number from 1 to 65535, not '70000'"),
        (["--max-concurrent", "0"], "argument --max-concurrent: must be a whole number of 1 or more"),
        (["--max-connections", "2", "--max-concurrent", "2"], "must exceed"),
        (["--job-timeout", "0"], "argument --job-timeout:"),
        (["--job-timeout", "soon"], "argument --job-timeout:"),
        (["--max-fit-values", "-5"], "argument --max-fit-values:"),
    ],
)
def test_bad_arguments_are_one_sentence_and_exit_2(argv, words, capsys):
    assert main(["serve", "--no-bundled", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("daekit: error:") and words in err and "Traceback" not in err


def test_job_timeout_and_fit_bound_reach_the_server_limits(monkeypatch):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    assert main(["serve", "--no-bundled", "--job-timeout", "7.5", "--max-fit-values", "1000000", "--quiet"]) == 0
    limits = served[0].state.limits
    assert (limits.job_timeout_s, limits.max_fit_values) == (7.5, 1_000_000)
    served.clear()
    assert main(["serve", "--no-bundled", "--quiet"]) == 0
    assert (served[0].state.limits.job_timeout_s, served[0].state.limits.max_fit_values) == (60.0, 200_000_000)


def test_a_folder_of_another_class_is_refused(tmp_path, capsys):
    from daekit import DenoisingAutoencoder, create_model

    DenoisingAutoencoder(create_model("mlp", in_features=4, hidden_sizes=[3])).save_pretrained(tmp_path / "dae")
    assert main(["serve", "--no-bundled", "--model", f"d={tmp_path / 'dae'}"]) == 2
    assert "serve takes ImageDenoiser, SpeechEnhancer, DAEDetector" in capsys.readouterr().err


def test_daekit_serve_starts_uvicorn_and_answers():
    folders = shared_models()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "daekit",
        "serve",
        "--no-bundled",
        "--port",
        str(port),
        "--quiet",
        "--model",
        f"gray={folders['gray']}",
        "--model",
        f"det={folders['table']}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/v1/models")
                info = json.loads(conn.getresponse().read())
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.2)
        assert info["endpoints"] == {"image": "ready", "audio": info["endpoints"]["audio"], "anomaly": "ready"}
        assert info["endpoints"]["audio"].startswith("no model loaded")
        conn.request(
            "POST",
            "/v1/anomaly/score",
            body=json.dumps([[0.0, 1.0, 2.0]] * 3),
            headers={"Content-Type": "application/json"},
        )
        assert json.loads(conn.getresponse().read())["n_rows"] == 3
    finally:
        proc.terminate()
        proc.wait(timeout=20)

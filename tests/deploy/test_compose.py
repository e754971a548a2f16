"""Static checks of the county-server stack: docker-compose.yml, docker/Dockerfile, .env.example.

There is no Docker engine where the tests run, so these tests only parse files; they never call the
`docker` client. yaml.safe_load resolves the `x-airflow-common` anchors and `<<` merge keys, so each
service is checked as Compose will see it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from shumei.local.celery import CELERY_SETTINGS_FILE, celery_settings, result_backend
from shumei.settings import REPO_ROOT

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "docker" / "Dockerfile"
CELERY_ENV_FILE = CELERY_SETTINGS_FILE.relative_to(REPO_ROOT).as_posix()

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
REQUIRED_SERVICES = AIRFLOW_SERVICES | {
    "redis",
    "airflow-metadb",
    "warehouse",
    "warehouse-init",
    "simulators",
}
MUST_HAVE_HEALTHCHECK = {"warehouse", "airflow-metadb", "redis", "airflow-apiserver"}
OWN_IMAGE = "shumei-airflow"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?msg}, ${VAR?msg}; `$${...}` is Compose's escape
# for a variable the container's shell expands, not a Compose variable.
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|^AIRFLOW_CONN_")
URL_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://([^:/@]*):([^@]*)@", re.IGNORECASE)


# ---- helpers -------------------------------------------------------------------------------------


def load_compose(text: str | None = None) -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8") if text is None else text)


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def strings_in(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings_in(item)]
    return []


def referenced_vars(doc: dict) -> set[str]:
    return {m.group(1) for s in strings_in(doc) for m in COMPOSE_VAR.finditer(s)}


def with_defaults(value: str) -> str:
    """The value Compose uses when no variable is set: defaults kept, required ones marked."""

    def sub(m: re.Match) -> str:
        op, arg = m.group(2), m.group(3) or ""
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return "<required>"
        return ""

    return COMPOSE_VAR.sub(sub, value)


def is_reference(value: str) -> bool:
    """The whole value is one ${...} (so the secret itself lives in .env)."""
    m = COMPOSE_VAR.fullmatch(value.strip())
    return m is not None and m.group(2) not in (":-", "-")


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        values[key.strip()] = value.strip()
    return values


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of each mount, short syntax resolved with the variables' defaults."""
    result = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            source = with_defaults(str(vol.get("source", "")))
            result.append((vol.get("type", "volume"), source, vol["target"]))
            continue
        parts = with_defaults(vol).split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        result.append((kind, source, target))
    return result


def named_volume_sources(service: dict) -> set[str]:
    return {source for kind, source, _ in mounts(service) if kind == "volume" and source}


def secret_problems(doc: dict) -> list[str]:
    problems = []
    for name, service in doc["services"].items():
        for key, value in env_of(service).items():
            if SECRET_NAME.search(key) and not is_reference(value):
                problems.append(f"{name}: {key} is not a ${{...}} reference")
            creds = URL_CREDENTIALS.match(value)
            if creds and creds.group(2) and not is_reference(creds.group(2)):
                problems.append(f"{name}: {key} has a literal password in its URL")
    return problems


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# ---- services and the Airflow 3 wiring ------------------------------------------------------------


def test_required_services_present(services):
    assert REQUIRED_SERVICES <= set(services), REQUIRED_SERVICES - set(services)


@pytest.mark.parametrize(
    ("service", "command"),
    [
        ("airflow-apiserver", "api-server"),
        ("airflow-scheduler", "scheduler"),
        ("airflow-dag-processor", "dag-processor"),
        ("airflow-triggerer", "triggerer"),
        ("airflow-worker", "celery worker"),
    ],
)
def test_airflow3_commands(services, service, command):
    actual = services[service]["command"]
    assert (" ".join(actual) if isinstance(actual, list) else actual) == command


def test_airflow_services_share_executor_jwt_secret_and_execution_api(services):
    envs = {name: env_of(services[name]) for name in AIRFLOW_SERVICES}
    assert celery_settings()["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name, env in envs.items():
        # the Celery settings from the file the local Celery stack reads, overridden by nothing but .env
        assert services[name]["env_file"] == [CELERY_ENV_FILE, ".env"], name
        assert not set(env) & set(celery_settings()), name
        assert env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") == (
            "http://airflow-apiserver:8080/execution/"
        ), name
        assert is_reference(env.get("AIRFLOW__API_AUTH__JWT_SECRET", "")), name
    for setting in (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
    ):
        assert len({env.get(setting) for env in envs.values()}) == 1, f"{setting} differs"


def test_jwt_secret_is_required_not_defaulted(services):
    value = env_of(services["airflow-apiserver"])["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert COMPOSE_VAR.fullmatch(value).group(2) == ":?", "a missing JWT secret must stop compose"


def test_airflow_metadb_and_broker_point_at_stack_services(services):
    env = env_of(services["airflow-scheduler"])
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert "@airflow-metadb:" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == result_backend(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
    assert celery_settings()["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"


# ---- the local Celery stack runs the same configuration ----------------------------------------


@pytest.fixture
def local_stack(tmp_path):
    from shumei.local.celery import CeleryStack
    from shumei.local.embedded import free_port
    from shumei.local.envfile import build_env

    return CeleryStack(build_env(tmp_path, wh_port=free_port(), hotline_port=free_port(), airflow_port=free_port()),
                       tmp_path / "celery")


def test_local_celery_stack_uses_the_compose_celery_settings(local_stack, services):
    local = local_stack.settings()
    compose = env_of(services["airflow-scheduler"])
    # the shared file as it is: nothing of the local installation overrides it
    assert {k: local[k] for k in celery_settings()} == celery_settings()
    # the same rules for what differs by machine: a Redis broker, results in the metadata database
    # through the same driver, workers reaching the API server's Task Execution API, one JWT secret
    for env in (local, compose):
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == result_backend(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert local["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{local_stack.api_port}/execution/"


def test_local_celery_stack_runs_the_compose_commands(services):
    from shumei.local.celery import AIRFLOW_COMMANDS, WORKER_COMMAND, WORKERS

    compose_commands = {services[name]["command"] for name in AIRFLOW_SERVICES}
    assert {" ".join(c) for c in (*AIRFLOW_COMMANDS.values(), WORKER_COMMAND)} <= compose_commands
    assert len(WORKERS) == 2


def test_celery_settings_file_holds_literals_only():
    text = (REPO / CELERY_ENV_FILE).read_text(encoding="utf-8")
    assert not COMPOSE_VAR.search(text)
    assert not [k for k in parse_env_file(REPO / CELERY_ENV_FILE) if SECRET_NAME.search(k)]


def test_pipeline_settings_reach_airflow_containers(services):
    env = env_of(services["airflow-worker"])
    expected_defaults = {
        "SHUMEI_WH_HOST": "warehouse",
        "SHUMEI_WH_PORT": "5432",
        "SHUMEI_HOTLINE_URL": "http://simulators:8765",
        "SHUMEI_REGISTRY_DIR": "/data/drops/registry",
        "SHUMEI_CREDIT_DIR": "/data/drops/credit",
    }
    for key, default in expected_defaults.items():
        assert with_defaults(env[key]) == default, key
    for key in (
        "SHUMEI_WH_DB",
        "SHUMEI_WH_USER",
        "SHUMEI_WH_PASSWORD",
        "SHUMEI_HOTLINE_TOKEN",
        "SHUMEI_PII_HASH_KEY",
        "AIRFLOW_CONN_SHUMEI_WAREHOUSE",
    ):
        assert key in env, key


def test_readers_database_settings_reach_init_and_reports(services):
    """warehouse-init creates the readers' database and shumei_fdw; the report task reads through it."""
    init, worker = env_of(services["warehouse-init"]), env_of(services["airflow-worker"])
    assert with_defaults(init["SHUMEI_READER_DB"]) == with_defaults(worker["SHUMEI_READER_DB"]) == "shumei_public"
    assert with_defaults(init["SHUMEI_FDW_USER"]) == "shumei_fdw"
    assert "SHUMEI_FDW_PASSWORD" in init and "SHUMEI_FDW_PASSWORD" not in worker


def test_airflow_services_mount_project_and_drops(services):
    for name in AIRFLOW_SERVICES:
        targets = {target for _, _, target in mounts(services[name])}
        for target in (
            "/opt/airflow/dags",
            "/opt/airflow/include",
            "/opt/airflow/dbt_project",
            "/opt/airflow/expectations",
            "/data/drops",
        ):
            assert target in targets, f"{name} does not mount {target}"


def test_drops_volume_shared_with_simulators(services):
    assert "drops" in named_volume_sources(services["airflow-worker"])
    assert "drops" in named_volume_sources(services["simulators"])


def test_start_order(services):
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert deps["airflow-metadb"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
    assert services["airflow-init"]["depends_on"]["airflow-metadb"]["condition"] == "service_healthy"
    worker_deps = services["airflow-worker"]["depends_on"]
    assert worker_deps["airflow-apiserver"]["condition"] == "service_healthy"
    assert worker_deps["warehouse-init"]["condition"] == "service_completed_successfully"
    assert services["warehouse-init"]["depends_on"]["warehouse"]["condition"] == "service_healthy"


def test_warehouse_database_created_by_bootstrap_not_by_image(services):
    """POSTGRES_DB would create the warehouse database owned by the superuser; bootstrap() then
    skips it and the owner role could not create schemas."""
    assert "POSTGRES_DB" not in env_of(services["warehouse"])
    assert "shumei.local.bootstrap" in " ".join(strings_in(services["warehouse-init"]["command"]))


def test_init_migrates_and_creates_admin_from_env(services):
    env = env_of(services["airflow-init"])
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert is_reference(env["_AIRFLOW_WWW_USER_PASSWORD"])


def test_worker_can_be_scaled(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker, "container_name blocks --scale airflow-worker=N"
    assert not worker.get("ports"), "a host port blocks --scale airflow-worker=N"


def test_simulators_only_in_demo_profile(services):
    sim = services["simulators"]
    assert sim.get("profiles") == ["demo"]
    assert "8765" in " ".join(strings_in(sim["healthcheck"]["test"]))
    assert "/health" in " ".join(strings_in(sim["healthcheck"]["test"]))
    for name in REQUIRED_SERVICES - {"simulators"}:
        assert "simulators" not in (services[name].get("depends_on") or {}), name


# ---- databases, volumes, health -----------------------------------------------------------------------


def test_metadb_and_warehouse_are_separate(services):
    metadb, warehouse = services["airflow-metadb"], services["warehouse"]
    for svc in (metadb, warehouse):
        assert svc["image"].startswith("postgres:")
    meta_vols, wh_vols = named_volume_sources(metadb), named_volume_sources(warehouse)
    assert meta_vols and wh_vols
    assert not meta_vols & wh_vols, "metadb and warehouse must not share a volume"


def test_warehouse_published_on_localhost_by_default(services):
    ports = [with_defaults(p) if isinstance(p, str) else p for p in services["warehouse"]["ports"]]
    assert ports == ["127.0.0.1:5432:5432"]


@pytest.mark.parametrize("name", sorted(MUST_HAVE_HEALTHCHECK))
def test_healthchecks(services, name):
    check = services[name].get("healthcheck")
    assert check and not check.get("disable") and check.get("test"), f"{name} has no healthcheck"
    if name == "airflow-apiserver":
        text = " ".join(strings_in(check["test"]))
        assert "/api/v2/version" in text or "/api/v2/monitor/health" in text


def test_named_volumes_declared(compose):
    declared = set(compose.get("volumes") or {})
    used = set().union(*(named_volume_sources(s) for s in compose["services"].values()))
    assert used <= declared, f"undeclared volumes: {used - declared}"


def test_third_party_images_pinned(services):
    for name, service in services.items():
        image = service.get("image", "")
        if image.startswith(OWN_IMAGE + ":"):
            assert "build" in service, f"{name} uses our image without a build section"
            continue
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: {image} is not pinned"


# ---- secrets and .env.example ---------------------------------------------------------------------------


def test_no_literal_secrets(compose):
    assert secret_problems(compose) == []


def test_secret_check_catches_literals():
    """The secret check itself can fail: a literal password and a password inside a URL."""
    doc = load_compose("""
services:
  a:
    environment:
      POSTGRES_PASSWORD: hunter2
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: postgresql+psycopg2://airflow:hunter2@db/airflow
      AIRFLOW_CONN_X: ${X:-postgresql://u:p@h/d}
""")
    assert len(secret_problems(doc)) == 3


def test_every_compose_variable_defined_in_env_example(compose):
    defined = set(parse_env_file(ENV_EXAMPLE))
    missing = referenced_vars(compose) - defined
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_holds_placeholders_only():
    for key, value in parse_env_file(ENV_EXAMPLE).items():
        if SECRET_NAME.search(key) and key != "PIP_INDEX_URL":
            assert "CHANGE_ME" in value, f".env.example: {key} must be a CHANGE_ME placeholder"


def test_dotenv_is_git_ignored():
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored


# ---- image ------------------------------------------------------------------------------------------------


def test_dockerfile_from_airflow_332():
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert froms and all(re.fullmatch(r"apache/airflow:3\.3\.2-\S+", f) for f in froms), froms


def test_dockerfile_installs_lock_and_project():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "requirements/requirements.lock" in text
    assert re.search(r"pip install --no-cache-dir -r \S*requirements\.lock", text)
    assert re.search(r"pip install --no-cache-dir --no-deps \S+", text)


def test_dockerfile_and_make_run_install_the_main_jobs_debian_packages():
    """The report task prints the bulletin with chromium: the image installs the main job's list
    (requirements/debian-run.txt) as root, and `make run` installs the same list (a fresh machine's
    first run failed in the report task without it)."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    listed = (REPO / "requirements" / "debian-run.txt").read_text(encoding="utf-8")
    assert "chromium" in [line.strip() for line in listed.splitlines()]
    copy = re.search(r"^COPY (\S*requirements/debian-run\.txt) (\S+)$", text, re.MULTILINE)
    assert copy, "the image does not copy requirements/debian-run.txt"
    run = text[copy.end():text.index("USER airflow", copy.end())]  # as root
    assert re.search(rf"{re.escape(copy.group(2))}[^\n]*\n[^\n]*xargs apt-get install -y", run), run
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: .*\bsysdeps-run\b", makefile, re.MULTILINE)
    assert re.search(r"^sysdeps-run:\n\trequirements/sysdeps\.sh debian-run\.txt$", makefile, re.MULTILINE)


def test_airflow_services_build_the_project_image(services):
    for name in AIRFLOW_SERVICES:
        build = services[name]["build"]
        assert build["dockerfile"] == "docker/Dockerfile", name
        assert services[name]["image"] == f"{OWN_IMAGE}:latest", name


def test_warehouse_logs_no_data_values(services):
    """The compose warehouse logs as the embedded one does (issue 11 item 3: server.log quoted a
    caller's phone from a failing COPY's CONTEXT)."""
    from shumei.local.embedded import SERVER_LOG_OPTIONS

    command = " ".join(strings_in(services["warehouse"]["command"]))
    for setting in SERVER_LOG_OPTIONS.split(" -c "):
        assert setting.removeprefix("-c ").strip() in command


def test_no_token_on_a_command_line(services):
    """issue 11 item 7: a command line is visible to every user of the machine (ps, /proc)."""
    for name, service in services.items():
        assert "--token" not in " ".join(strings_in(service.get("command", ""))), name
    runner = (REPO_ROOT / "include" / "shumei" / "local" / "runner.py").read_text(encoding="utf-8")
    assert '"--token"' not in runner


def test_airflow_settings_of_every_installation(services):
    """Private task logs, no Cosmos telemetry: as in a local `.env` (envfile.AIRFLOW_SETTINGS)."""
    from shumei.local.envfile import AIRFLOW_SETTINGS

    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-worker", "airflow-dag-processor"):
        env = env_of(services[name])
        for key, value in AIRFLOW_SETTINGS.items():
            assert env.get(key) == value, (name, key)

# The two commands a new user needs: `make demo` and `make test`.
VENV := .venv/bin

.PHONY: setup demo test bench
setup:
	@bash tools/setup.sh

demo: setup
	@$(VENV)/python -m scapula.demo

test: setup
	@$(VENV)/python -m pytest -q $(PYTEST_ARGS)

bench: setup
	@$(VENV)/python bench/syscall_overhead.py

.PHONY: bench-consumer bench-dispatcher
bench-consumer: setup
	@$(VENV)/python bench/consumer.py

bench-dispatcher: setup
	@$(VENV)/python bench/dispatcher_variants.py

# The script installs redis-server and redis-tools itself when they are missing.
.PHONY: bench-redis
bench-redis: setup
	@$(VENV)/python bench/redis_throughput.py

# Records its 1.2M-event capture once (about a minute) into /var/tmp/scapula-bench and
# reuses it; the replays take about 12 minutes on a 2-vCPU machine.
.PHONY: bench-replay
bench-replay: setup
	@$(VENV)/python bench/replay_throughput.py

# Records a 5M-event capture the first time (about 4 minutes) beside bench-replay's
# 1.2M one and reuses both; then about 6 minutes on a 2-vCPU machine.
.PHONY: bench-query
bench-query: setup
	@$(VENV)/python bench/query_load.py

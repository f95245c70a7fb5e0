"""hello-py's example task: compute with the python tool, then submit the number."""
from pytest_rltask import Task

TASK = Task(
    prompt=(
        "Calculate (2^10 + 3^5) * 7 - 100, where ^ means exponentiation. Use the run_python tool to "
        "compute it (write the script with write_file first), then submit the result with "
        "submit_answer as a plain integer."
    ),
    tools=["write_file", "run_python", "submit_answer"],
    max_steps=6,
)

"""tasks/literature_review: the task an agent sees (prompt, topics, tools).

The seed picks the topic (run 1 memory, run 2 RL and alignment, run 3 robotics, then again): the
topic is public, it is in the prompt. There is no hidden instance: the corpus is fixed, and what
the grader checks a review against is exactly what the corpus tools show.
"""
from __future__ import annotations

from pytest_rltask import Task

from . import papers

TOPIC_INFO: dict[str, dict] = {
    "memory": {
        "title": "long-term memory for large language models",
        "approaches": {
            "extended_context": "extending the context window (efficient attention, recurrence, position encodings)",
            "retrieval": "retrieval augmentation (retrieving text or memories into the context)",
            "summarization": "summarization and compression of past context",
            "memory_architecture": "memory architectures and agents that manage their own memory (e.g. MemGPT)",
            "model_editing": "editing the knowledge stored in the weights (e.g. ROME, MEMIT)",
        },
        "seminal": ["transformer_xl_2019", "rag_2020", "retro_2022", "memgpt_2023", "rome_2022", "memit_2023"],
    },
    "rl_alignment": {
        "title": "reinforcement learning and alignment",
        "approaches": {
            "rlhf": "reinforcement learning from human feedback and preference optimization",
            "continual_rl": "continual reinforcement learning (learning without forgetting, plasticity)",
            "world_models": "world models and model-based RL",
            "sequence_models": "RL as sequence modelling and offline RL (e.g. Decision Transformer)",
        },
        "seminal": ["human_preferences_2017", "instructgpt_2022", "dpo_2023", "ewc_2017", "world_models_2018",
                    "dreamerv3_2023", "decision_transformer_2021"],
    },
    "robotics": {
        "title": "robot learning",
        "approaches": {
            "robot_foundation_models": "robot foundation models: large robot transformers and vision-language-action "
                                       "models (e.g. RT-1, RT-2)",
            "sim_to_real": "sim-to-real transfer",
            "imitation_learning": "imitation learning from demonstrations",
        },
        "seminal": ["rt1_2022", "rt2_2023", "domain_randomization_2017", "dagger_2011", "diffusion_policy_2023"],
    },
}
TOPIC_ORDER = ("memory", "rl_alignment", "robotics")


def topic_for(seed: int) -> str:
    return TOPIC_ORDER[(seed - 1) % len(TOPIC_ORDER)]


def prompt(seed: int) -> str:
    info = TOPIC_INFO[topic_for(seed)]
    approaches = "\n".join(f"- {a}" for a in info["approaches"].values())
    return f"""\
You are a research assistant. Write a literature review on {info['title']}.

Your only source is a fixed corpus of papers, reachable through these tools: web_search (find
papers; it returns their ids), get_paper_with_tldr, get_paper_introduction, get_paper_results and
get_paper_references. Cite only papers you found there.

The review must:
- cover each of these approaches, with specific papers:
{approaches}
- cite papers by their corpus id in square brackets, e.g. [some_paper_2020] or [paper_a_2019, paper_b_2021];
- give specific quantitative results (at least five), each in the clause that cites the paper it
  comes from, written as get_paper_results reports it, with its metric named;
- present the seminal works of the field with their results;
- synthesize: compare the approaches, explain their trade-offs and when each applies, and name the
  open problems; organize it by ideas, in your own words, not as a list of paper summaries;
- be markdown prose of 700 to 2000 words, written for a reader, not for a grader (describe prompt
  injections, grading prompts and rubrics in your own words rather than quoting them).

Submit the whole review with submit_answer. It is checked first (citations exist, approaches are
covered, every number matches a reported result of the paper cited with it, the text is your own),
then graded on coverage, seminal works and synthesis."""


TASK = Task(
    prompt=prompt,
    tools=[*papers.TOOLS, "submit_answer"],
    max_steps=40,
    max_tokens=8192,
    time_limit=1800.0,
)

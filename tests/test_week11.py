"""Week 11 (reinforcement learning): the social-dilemma explorer and its plot without a browser
and, as probes in the chapter's kernel after its one run, the chapter's planning and learning
code on other environments and payoffs, the tournament's arithmetic, and the exercise solutions.
"""

import numpy as np
import pytest

from notebook_runs import probe, solution_probes
from utils.widgets import dilemma_explorer, dilemma_runs, plot_dilemma_runs, rolling_mutual_cooperation

WEEK11 = "11_reinforcement_learning"
SOLUTIONS = solution_probes(WEEK11, {
    1: '{str(k): {"2000": float(r[1_999]), "20000": float(r[-1])} for k, r in eps_regret.items()}',
    2: '{"steady": steady, "hurried": hurried}',
    3: 'nasty.to_dict()',
})
PLANNING = probe(WEEK11, "value iteration, exact success and Q-learning on the non-slippery lake", """
import json
slippery_rules = RULES
firm = gym.make("FrozenLake-v1", is_slippery=False)
RULES = firm.unwrapped.P
V_firm, _ = value_iteration(gamma=0.9)
firm_policy = action_values(V_firm, 0.9).argmax(axis=1)
report = {"V_start": float(V_firm[0]), "within_5": success_probability(firm_policy, 5),
          "within_6": success_probability(firm_policy, 6)}
Q_firm = q_learning(firm, episodes=2_000, seed=3)
report["q_learning_success"] = success_probability(Q_firm.argmax(axis=1))
report["played"] = play(firm, Q_firm.argmax(axis=1), episodes=50)
RULES = slippery_rules
print(json.dumps(report))
""")
DILEMMA = probe(WEEK11, "matches, tournament and learners on other payoffs", """
import json
tft, alld, allc = STRATEGIES["tit for tat"], STRATEGIES["always defect"], STRATEGIES["always cooperate"]
report = {"tft_vs_alld": play_match(tft, alld), "tft_vs_tft": play_match(tft, tft),
          "allc_vs_alld": play_match(allc, alld, rounds=10)}
# with T=4, R=3, P=1, S=0 the threshold max((T-R)/(T-P), (T-R)/(R-S)) is 1/3
mild = {"T": 4, "R": 3, "P": 1, "S": 0}
report["mild_gamma_0.5"] = np.mean([mutual_cooperation(learn_dilemma("tit for tat", 0.5, payoffs=mild, seed=s)) for s in range(3)])
report["mild_gamma_0.2"] = np.mean([mutual_cooperation(learn_dilemma("tit for tat", 0.2, payoffs=mild, seed=s)) for s in range(3)])
box = dilemma_explorer(learn_dilemma, seeds=range(2))
temptation, sucker, discount = box.children[0].children
report["default"] = box.result
temptation.value = 9.0  # T + S > 2R: alternating exploitation beats cooperation
report["greedy_temptation"] = box.result
print(json.dumps(report, default=float))
""")


# --------------------------------------------------------------------------- the explorer, without a browser

def scripted_learner(opponent, gamma, payoffs, seed, rounds=3_000):
    """Cooperates in every round once gamma is at least 0.5 and T is below 6; defects otherwise."""
    cooperate = gamma >= 0.5 and payoffs["T"] < 6
    moves = np.ones((rounds, 2), dtype=int)
    if cooperate:
        moves[rounds // 2:] = 0
    if opponent == "learner" and seed % 2:
        moves[:] = 1
    return moves


def test_rolling_mutual_cooperation_counts_rounds_where_both_cooperate():
    moves = np.array([[0, 0], [0, 1], [0, 0], [1, 1], [0, 0]])
    assert rolling_mutual_cooperation(moves, window=2).tolist() == [0.5, 0.5, 0.5, 0.5]
    assert rolling_mutual_cooperation(moves, window=10).tolist() == [0.6]
    with pytest.raises(ValueError, match="shape"):
        rolling_mutual_cooperation(np.zeros(5))


def test_dilemma_explorer_follows_its_sliders():
    box = dilemma_explorer(scripted_learner, seeds=range(2), last=1_000)
    temptation, sucker, discount = box.children[0].children
    assert box.result["cooperation"] == {"tit for tat": 1.0, "learner": 0.5}
    assert box.result["payoffs"] == {"T": 5, "R": 3, "P": 1, "S": 0} and box.result["gamma"] == 0.9
    discount.value = 0.3
    assert box.result["cooperation"] == {"tit for tat": 0.0, "learner": 0.0}
    discount.value, temptation.value = 0.9, 7.0
    assert box.result["payoffs"]["T"] == 7.0 and box.result["cooperation"]["tit for tat"] == 0.0
    sucker.value = -2.0
    assert box.result["payoffs"]["S"] == -2.0
    assert sucker.max < box.result["payoffs"]["P"] and temptation.min > box.result["payoffs"]["R"]


def test_dilemma_runs_rejects_a_game_that_is_not_a_dilemma():
    with pytest.raises(ValueError, match="T > R > P > S"):
        dilemma_runs(scripted_learner, {"T": 3, "R": 5, "P": 1, "S": 0}, 0.9, range(2))
    with pytest.raises(ValueError, match="discount factor"):
        dilemma_runs(scripted_learner, {"T": 5, "R": 3, "P": 1, "S": 0}, 1.0, range(2))


def test_plot_dilemma_runs_draws_a_line_per_seed_and_opponent():
    fig = plot_dilemma_runs(scripted_learner, {"T": 5, "R": 3, "P": 1, "S": 0}, 0.9, seeds=range(3), window=100)
    against_tft, against_learner = fig.axes
    assert len(against_tft.lines) == 3 and len(against_learner.lines) == 3
    assert against_tft.lines[0].get_ydata()[-1] == 1.0 and against_tft.lines[0].get_ydata()[0] == 0.0
    assert "tit for tat" in against_tft.get_title() and "another learner" in against_learner.get_title()


# --------------------------------------------------------------------------- probes of the chapter

def test_planning_and_q_learning_on_the_firm_lake():
    got = PLANNING.json()
    assert got["V_start"] == pytest.approx(0.9 ** 5), "six steps to the goal, reward 1 on the sixth"
    assert got["within_5"] == 0.0 and got["within_6"] == pytest.approx(1.0)
    assert got["q_learning_success"] == pytest.approx(1.0) and got["played"] == 1.0


def test_matches_and_learners_follow_the_algebra():
    got = DILEMMA.json()
    assert got["tft_vs_alld"] == [199.0, 204.0], "S once, then P; T once, then P"
    assert got["tft_vs_tft"] == [600.0, 600.0]
    assert got["allc_vs_alld"] == [0.0, 50.0]
    assert got["mild_gamma_0.5"] > 0.9, "above the threshold of 1/3 the learner cooperates with tit for tat"
    assert got["mild_gamma_0.2"] < 0.1, "below it, it defects"
    assert got["default"]["cooperation"]["tit for tat"] > 0.9
    assert got["greedy_temptation"]["cooperation"]["tit for tat"] < 0.1


def test_week11_exercise_solutions():
    eps = SOLUTIONS[1].json()
    assert eps["0.01"]["2000"] > max(eps["0.1"]["2000"], eps["0.3"]["2000"]), "too little exploration is behind early"
    assert eps["0.1"]["20000"] < min(eps["0.01"]["20000"], eps["0.3"]["20000"]), "and ε = 0.1 is ahead late"
    dqn = SOLUTIONS[2].json()
    assert max(dqn["hurried"]["mean Q"]) > 1_000 > max(dqn["steady"]["mean Q"]), "the hurried target diverges"
    assert max(dqn["hurried"]["greedy return"]) < 30, "and its policy learns nothing"
    nasty = SOLUTIONS[3].json()
    ranking = sorted(nasty, key=nasty.get, reverse=True)
    assert ranking[:2] == ["tit for tat", "grim trigger"]
    assert "always cooperate" in ranking[-2:]
    assert all(nasty[name] > nasty["always cooperate"] for name in nasty if name.startswith("always defect"))

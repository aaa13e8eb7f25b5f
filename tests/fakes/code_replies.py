"""A teacher for the code recipes whose replies are scripted by the seed: a snippet (or problem) carrying
`# task: NAME` and `# script: BEHAVIOUR` gets that task's problem, solution and tests, written to behave so:

  good     a correct solution and tests
  fixed    a wrong solution first, the correct one once the failure is sent back
  wrong    a wrong solution however often it is asked
  weak     a correct solution with tests that a solution returning None passes too
  hang     a solution that never returns
  garbled  no sections at all
"""

from __future__ import annotations

import re

TASKS = {
    "double": ("Write a function `double(x)` that returns twice the number x.",
               "def double(x):\n    return 2 * x\n", "def double(x):\n    return x + 2\n",
               ["double(3) == 6", "double(0) == 0", "double(-4) == -8"]),
    "palindrome": ("Write a function `mirrored(word)` telling whether a word reads the same backwards, ignoring case.",
                   "def mirrored(word):\n    word = word.lower()\n    return word == word[::-1]\n",
                   "def mirrored(word):\n    return word == word[::-1]\n",
                   ["mirrored('Level')", "not mirrored('abc')", "mirrored('')"]),
    "vowels": ("Write a function `count_vowels(text)` that counts the letters a, e, i, o and u in a string.",
               "def count_vowels(text):\n    return sum(c in 'aeiou' for c in text.lower())\n",
               "def count_vowels(text):\n    return sum(c in 'aeio' for c in text)\n",
               ["count_vowels('banana') == 3", "count_vowels('sky') == 0", "count_vowels('Queue') == 4"]),
    "clamp": ("Write a function `clamp(value, low, high)` that limits a value to the closed range from low to high.",
              "def clamp(value, low, high):\n    return max(low, min(value, high))\n",
              "def clamp(value, low, high):\n    return min(low, max(value, high))\n",
              ["clamp(5, 0, 3) == 3", "clamp(-1, 0, 3) == 0", "clamp(2, 0, 3) == 2"]),
    "lengths": ("Write a function `word_lengths(sentence)` returning the length of each space-separated word.",
                "def word_lengths(sentence):\n    return [len(word) for word in sentence.split()]\n",
                "def word_lengths(sentence):\n    return [len(sentence)]\n",
                ["word_lengths('a bb ccc') == [1, 2, 3]", "word_lengths('') == []", "word_lengths('hi') == [2]"]),
    "evens": ("Write a function `keep_even(numbers)` that returns the even numbers of a list, in order.",
              "def keep_even(numbers):\n    return [n for n in numbers if n % 2 == 0]\n",
              "def keep_even(numbers):\n    return [n for n in numbers if n % 2]\n",
              ["keep_even([1, 2, 3, 4]) == [2, 4]", "keep_even([]) == []", "keep_even([7]) == []"]),
}


def scripted(prompt: str) -> tuple[str, str]:
    return re.search(r"# task: (\w+)", prompt).group(1), re.search(r"# script: (\w+)", prompt).group(1)


def code_reply(body: dict) -> str:
    task, behaviour = scripted(body["messages"][0]["content"])
    problem, right, wrong, checks = TASKS[task]
    sent_back = len(body["messages"]) > 1
    solution = {"good": right, "fixed": right if sent_back else wrong, "wrong": wrong, "weak": right,
                "hang": f"def {right.split('(')[0][4:]}(*args):\n    while True:\n        pass\n"}.get(behaviour)
    if solution is None:
        return "I would be glad to help with that snippet!"
    tests = [f"{check.split(' ==')[0]} is None or True" for check in checks] if behaviour == "weak" else checks
    listed = "\n".join(f"assert {check}" for check in tests)
    return f"### Problem\n{problem}\n\n### Solution\n```python\n{solution}```\n\n### Tests\n```python\n{listed}\n```\n"

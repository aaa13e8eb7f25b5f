"""The paper's four prompt templates: generating instructions, labelling them classification or not, and writing
an instance input-first or output-first."""

from synthfoundry.recipes.templates import load_template

TEMPLATE = load_template(__package__, "generate_instructions")
CLASSIFY = load_template(__package__, "identify_classification")
INPUT_FIRST = load_template(__package__, "instances_input_first")
OUTPUT_FIRST = load_template(__package__, "instances_output_first")

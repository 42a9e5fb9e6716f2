"""The first-party `ssm` plugin (plugins/ssm) in Python: `{{ ssm NAME [INDEX] }}` with ecspresso's
semantics and error texts, GetParameter(NAME, WithDecryption) through the host broker, cached per
name for the run. Capability: ssm:GetParameter on * (the operator narrows it in `grants:`)."""

from cortado_plugin import AwsError, Manifest, Plugin, aws, export


def select(name, kind, value, index):
    """The value of parameter `name` of type `kind`, with the optional 0-based StringList `index`."""
    if kind == "StringList":
        if index is None:
            # ecspresso's text, typo included, so scripts matching on it keep working.
            raise ValueError("the second argument is required for StringList type parrameter to specify the index")
        values = value.split(",")
        try:
            i = int(index.strip())
        except ValueError:
            raise ValueError(f'the index of a StringList must be an integer, but got "{index}"') from None
        if i < 0 or i >= len(values):
            raise ValueError(f"StringList values were [{' '.join(values)}], but the index {i} is out of range")
        return values[i]
    if kind in ("String", "SecureString"):
        if index is not None:
            raise ValueError(f"the second argument is supported only for StringList type, but the parameter {name} is of type {kind}")
        return value
    raise ValueError(f"received unexpected parameter type: {kind}")


class Ssm(Plugin):
    def __init__(self):
        self.cache = {}

    def manifest(self):
        return (
            Manifest("ssm", "0.1.0")
            .description("SSM Parameter Store values (ecspresso's ssm plugin, in Python)")
            .function("ssm", 1, 2, "ssm NAME [INDEX]: a parameter's value; INDEX picks an element of a StringList")
            .capability("ssm:GetParameter", "*")
        )

    def parameter(self, name):
        if name not in self.cache:
            try:
                self.cache[name] = aws.ssm_get_parameter(name, True)
            except AwsError as e:
                raise ValueError(f"something went wrong calling get-parameter API: {e.message}") from None
        return self.cache[name]

    def resolve(self, function, args):
        if function != "ssm":
            raise ValueError(f"function {function} is not provided by this plugin")
        if len(args) > 2:
            raise ValueError(f"ssm template function accepts at most 2 parameters, but got {len(args)}")
        p = self.parameter(args[0])
        return select(p.name, p.type, p.value, args[1] if len(args) > 1 else None)


WitWorld, Resolver, Verifier, Gate = export(Ssm)

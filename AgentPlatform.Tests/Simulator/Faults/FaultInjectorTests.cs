using AgentPlatform.Simulator;
using AgentPlatform.Simulator.Faults;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Tests.Simulator.Faults;

public sealed class FaultInjectorTests
{
    [Fact]
    public void A_rate_injects_about_that_share_of_requests()
    {
        var injector = new FaultInjector(Options.Create(new SimulatorOptions()), new Random(7));
        injector.Set(new FaultSpec { Kind = FaultKinds.ServerError, Rate = 0.3 });

        var hits = Enumerable.Range(0, 10_000).Count(_ => injector.Roll([]) is not null);

        Assert.InRange(hits, 2_800, 3_200);
    }

    [Fact]
    public void Setting_a_kind_again_replaces_it_and_rate_zero_removes_it()
    {
        var injector = new FaultInjector(Options.Create(new SimulatorOptions { Faults = [new() { Kind = "429", Rate = 1 }] }), new Random(1));

        injector.Set(new FaultSpec { Kind = "429", Rate = 0.5 });
        Assert.Equal(0.5, Assert.Single(injector.Current).Rate);

        injector.Set(new FaultSpec { Kind = "429", Rate = 0 });
        Assert.Empty(injector.Current);
        Assert.Null(injector.Roll([]));
    }

    [Theory]
    [InlineData("explode", 0.5, "Kind 'explode'")]
    [InlineData("500", 1.5, "Rate 1.5")]
    [InlineData("500", -0.1, "Rate -0.1")]
    public void Invalid_specs_say_what_is_wrong(string kind, double rate, string message) =>
        Assert.StartsWith(message, new FaultSpec { Kind = kind, Rate = rate }.Validate());

    [Fact]
    public void Configured_faults_are_validated_with_their_key()
    {
        var result = new SimulatorFaultsValidator().Validate(null, new SimulatorOptions { Faults = [new() { Kind = "500", Rate = 0.1 }, new() { Kind = "nope", Rate = 0.1 }] });

        Assert.StartsWith("Simulator:Faults:1: Kind 'nope'", Assert.Single(result.Failures!));
    }
}

using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Providers.OpenAI;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Router.Routing;
using Microsoft.Extensions.Time.Testing;

namespace AgentPlatform.Tests.Router.Pool;

public sealed class ModelGroupTests
{
    private static readonly IRoutingStrategy First = new FirstCandidate();
    private static readonly long Now = DateTimeOffset.UtcNow.UtcTicks;

    [Fact]
    public void The_lowest_priority_is_used_until_all_of_it_has_been_tried()
    {
        var primaryA = Deployment("primary-a", priority: 0);
        var primaryB = Deployment("primary-b", priority: 0);
        var backup = Deployment("backup", priority: 1);
        var group = Group([backup, primaryA, primaryB], First);

        Assert.Equal(primaryA, group.PickNext([], Now));
        Assert.Equal(primaryB, group.PickNext([primaryA], Now));
        Assert.Equal(backup, group.PickNext([primaryA, primaryB], Now));
        Assert.Null(group.PickNext([primaryA, primaryB, backup], Now));
    }

    [Fact]
    public void A_tried_deployment_is_never_picked_again_for_the_request()
    {
        var a = Deployment("a");
        var b = Deployment("b");
        var group = Group([a, b], new WeightedRoutingStrategy(new Random(3)));

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(b, group.PickNext([a], Now));
        }
    }

    [Fact]
    public void A_deployment_cooling_down_after_retry_after_is_skipped_until_the_time_is_up()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var throttled = Deployment("throttled", time: time);
        var other = Deployment("other", time: time);
        var group = Group([throttled, other], First);

        throttled.State.CoolDown(time.GetUtcNow().AddSeconds(2));

        Assert.Equal(other, group.PickNext([], time.GetUtcNow().UtcTicks));
        Assert.Null(group.PickNext([other], time.GetUtcNow().UtcTicks));
        Assert.Equal(time.GetUtcNow().UtcTicks, group.EarliestAvailableTicks(time.GetUtcNow().UtcTicks));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(throttled, group.PickNext([other], time.GetUtcNow().UtcTicks));
    }

    [Fact]
    public void The_priority_below_is_used_when_every_deployment_above_has_an_open_breaker()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var primary = Deployment("primary", time: time);
        var backup = Deployment("backup", priority: 1, time: time);
        var group = Group([primary, backup], First);

        for (var i = 0; i < 5; i++)
        {
            primary.Breaker.OnFailure("down");
        }

        Assert.Equal(CircuitState.Open, primary.Breaker.State);
        Assert.Equal(backup, group.PickNext([], time.GetUtcNow().UtcTicks));
        Assert.Equal(primary.Breaker.OpenUntil.UtcTicks, group.EarliestBreakEndTicks());
    }

    [Fact]
    public void Nothing_is_worth_waiting_for_when_every_breaker_is_open()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var only = Deployment("only", time: time);
        var group = Group([only], First);
        for (var i = 0; i < 5; i++)
        {
            only.Breaker.OnFailure("down");
        }

        Assert.Null(group.PickNext([], time.GetUtcNow().UtcTicks));
        Assert.Null(group.EarliestAvailableTicks(time.GetUtcNow().UtcTicks));
    }

    internal static ModelGroup Group(Deployment[] deployments, IRoutingStrategy strategy) =>
        new("g", deployments, strategy, new RetryBudget(new RetryOptions(), TimeProvider.System));

    internal static Deployment Deployment(string name, int priority = 0, double weight = 1, double price = 0, TimeProvider? time = null) =>
        new("g", new DeploymentOptions { Name = name, BaseUrl = "http://localhost/v1", Model = "m", Weight = weight, Priority = priority, InputPricePerMillion = price }, new OpenAIAdapter(), time ?? TimeProvider.System);

    private sealed class FirstCandidate : IRoutingStrategy
    {
        public string Name => "first";

        public Deployment Pick(IReadOnlyList<Deployment> candidates) => candidates[0];
    }
}

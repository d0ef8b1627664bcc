using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Providers.OpenAI;
using AgentPlatform.Router.Routing;
using Microsoft.Extensions.Time.Testing;
using static AgentPlatform.Tests.Router.Pool.ModelGroupTests;

namespace AgentPlatform.Tests.Router.Routing;

public sealed class RoutingStrategyTests
{
    [Fact]
    public void Weighted_picks_converge_to_the_weights()
    {
        Deployment[] deployments = [Deployment("a", weight: 1), Deployment("b", weight: 3), Deployment("c", weight: 6)];
        var strategy = new WeightedRoutingStrategy(new Random(2026));

        var picks = Enumerable.Range(0, 10_000).Select(_ => strategy.Pick(deployments)).GroupBy(d => d.Name).ToDictionary(g => g.Key, g => g.Count());

        Assert.InRange(picks["a"], 700, 1_300);
        Assert.InRange(picks["b"], 2_700, 3_300);
        Assert.InRange(picks["c"], 5_700, 6_300);
    }

    [Fact]
    public void Least_busy_sends_to_the_deployment_with_fewer_requests_in_flight()
    {
        var busy = Deployment("busy");
        var idle = Deployment("idle");
        var leases = Enumerable.Range(0, 5).Select(_ => busy.State.BeginRequest()).ToList();
        var strategy = new LeastBusyRoutingStrategy(new Random(1));

        Assert.All(Enumerable.Range(0, 100), _ => Assert.Same(idle, strategy.Pick([busy, idle])));

        leases.ForEach(l => l.Dispose());
        Assert.Equal(0, busy.State.InFlight);
    }

    [Fact]
    public void Least_busy_among_many_never_picks_the_busiest()
    {
        Deployment[] deployments = [Deployment("a"), Deployment("b"), Deployment("c")];
        _ = Enumerable.Range(0, 3).Select(_ => deployments[2].State.BeginRequest()).ToList();
        var strategy = new LeastBusyRoutingStrategy(new Random(7));

        var picks = Enumerable.Range(0, 1_000).Select(_ => strategy.Pick(deployments)).ToList();

        Assert.DoesNotContain(deployments[2], picks);
        Assert.Contains(deployments[0], picks);
        Assert.Contains(deployments[1], picks);
    }

    [Fact]
    public void Lowest_latency_sends_almost_everything_to_the_deployment_five_times_faster()
    {
        var time = new FakeTimeProvider();
        var fast = new Deployment("g", new DeploymentOptions { Name = "fast", BaseUrl = "http://x/v1", Model = "m" }, new OpenAIAdapter(), time);
        var slow = new Deployment("g", new DeploymentOptions { Name = "slow", BaseUrl = "http://x/v1", Model = "m" }, new OpenAIAdapter(), time);
        fast.State.RecordLatency(TimeSpan.FromMilliseconds(20));
        slow.State.RecordLatency(TimeSpan.FromMilliseconds(100));
        var strategy = new LowestLatencyRoutingStrategy(new Random(5));

        var toFast = Enumerable.Range(0, 1_000).Count(_ => strategy.Pick([slow, fast]) == fast);

        Assert.True(toFast >= 900, $"{toFast} of 1000 went to the fast deployment");
    }

    [Fact]
    public void Lowest_latency_tries_a_deployment_it_has_no_sample_of()
    {
        var known = Deployment("known");
        var unknown = Deployment("unknown");
        known.State.RecordLatency(TimeSpan.FromMilliseconds(5));

        Assert.Same(unknown, new LowestLatencyRoutingStrategy(new Random(1)).Pick([known, unknown]));
    }

    [Fact]
    public void Peak_ewma_jumps_up_at_once_and_decays_with_time()
    {
        var time = new FakeTimeProvider();
        var state = new DeploymentState(time);

        state.RecordLatency(TimeSpan.FromMilliseconds(10));
        state.RecordLatency(TimeSpan.FromMilliseconds(200));
        Assert.Equal(200, state.LatencyEwmaMs);

        time.Advance(state.LatencyDecay);
        state.RecordLatency(TimeSpan.FromMilliseconds(10));
        Assert.Equal(10 + 190 / Math.E, state.LatencyEwmaMs, precision: 6);
    }

    [Fact]
    public void A_deployment_left_idle_after_a_slow_answer_fades_back_and_is_tried_again()
    {
        var time = new FakeTimeProvider();
        var stalled = Deployment("stalled", time: time);
        var steady = Deployment("steady", time: time);
        stalled.State.RecordLatency(TimeSpan.FromMilliseconds(600)); // one stall
        steady.State.RecordLatency(TimeSpan.FromMilliseconds(150));
        var strategy = new LowestLatencyRoutingStrategy(new Random(3));

        Assert.Same(steady, strategy.Pick([stalled, steady]));
        Assert.Equal(600, stalled.State.LatencyCostMs);

        time.Advance(stalled.State.LatencyDecay * 2); // both idle: both fade, by the same factor
        Assert.Equal(600 / Math.E / Math.E, stalled.State.LatencyCostMs, precision: 6);
        steady.State.RecordLatency(TimeSpan.FromMilliseconds(150)); // the steady one keeps answering

        Assert.Same(stalled, strategy.Pick([stalled, steady])); // 81 ms faded against 150 measured: measured again
        Assert.Equal(600, stalled.State.LatencyEwmaMs); // what the admin API shows stays the last measure
    }

    [Fact]
    public void Cheapest_picks_the_lowest_price_and_shares_ties_by_weight()
    {
        var dear = Deployment("dear", price: 10);
        var cheapA = Deployment("cheap-a", price: 1);
        var cheapB = Deployment("cheap-b", price: 1);
        var strategy = new CheapestRoutingStrategy(new WeightedRoutingStrategy(new Random(9)));

        var picks = Enumerable.Range(0, 1_000).Select(_ => strategy.Pick([dear, cheapA, cheapB])).ToList();

        Assert.DoesNotContain(dear, picks);
        Assert.InRange(picks.Count(p => p == cheapA), 400, 600);
    }
}

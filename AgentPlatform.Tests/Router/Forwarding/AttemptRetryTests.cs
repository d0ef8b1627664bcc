using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Forwarding;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Tests.Router.Pool;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace AgentPlatform.Tests.Router.Forwarding;

/// <summary>The retry decision alone: when a request is tried again, after how long, and when never.</summary>
public sealed class AttemptRetryTests
{
    private static readonly AttemptResult Failed = AttemptResult.Failed("deployment 'a' answered 502", 502);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly RetryOptions _options = new() { BaseDelayMs = 200, MaxDelayMs = 5_000, MaxRetryAfterSeconds = 30 };

    [Fact]
    public void With_a_deployment_not_yet_tried_the_retry_goes_at_once_and_the_decision_picks_nothing()
    {
        var strategy = new CountingStrategy();
        var (a, b) = (Deployment("a"), Deployment("b"));
        var request = Request(Group([a, b], strategy));
        request.Tried.Add(a);

        Assert.Equal(TimeSpan.Zero, Retry().NextDelay(request, Failed));
        Assert.Equal([a], request.Tried);
        Assert.Equal(0, strategy.Picks); // the attempt picks; a pick may count (round robin, usage)
    }

    [Fact]
    public void With_every_deployment_tried_it_backs_off_at_most_the_cap_and_a_new_round_may_try_them_again()
    {
        var a = Deployment("a");
        var request = Request(Group([a]));
        var retry = Retry(new Random(7));

        for (var round = 0; round < 6; round++)
        {
            request.Tried.Add(a);
            var delay = retry.NextDelay(request, Failed);

            Assert.NotNull(delay);
            Assert.InRange(delay.Value.TotalMilliseconds, 0, Math.Min(_options.MaxDelayMs, _options.BaseDelayMs * Math.Pow(2, round)));
            Assert.Equal(round + 1, request.Backoffs);
            Assert.Empty(request.Tried);
        }
    }

    [Fact]
    public void A_deployment_that_asked_for_a_wait_is_not_called_again_before_its_retry_after_ends()
    {
        var a = Deployment("a");
        var request = Request(Group([a]));
        request.Tried.Add(a);
        a.State.CoolDown(_time.GetUtcNow().AddSeconds(3));

        Assert.True(Retry().NextDelay(request, AttemptResult.Throttled("429", 429)) >= TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void No_retry_when_the_wait_would_pass_the_longest_retry_after_taken_or_the_requests_total_time()
    {
        var a = Deployment("a");
        a.State.CoolDown(_time.GetUtcNow().AddSeconds(_options.MaxRetryAfterSeconds + 1));
        var beyondLongest = Request(Group([a]));
        beyondLongest.Tried.Add(a);
        Assert.Null(Retry().NextDelay(beyondLongest, Failed));

        var b = Deployment("b");
        b.State.CoolDown(_time.GetUtcNow().AddSeconds(5));
        var beyondTotal = Request(Group([b]), totalTime: TimeSpan.FromSeconds(4));
        beyondTotal.Tried.Add(b);
        Assert.Null(Retry().NextDelay(beyondTotal, Failed));
    }

    [Fact]
    public void No_retry_when_every_breaker_is_open()
    {
        var a = Deployment("a");
        for (var i = 0; i < new CircuitBreakerOptions().ConsecutiveFailures; i++)
        {
            Assert.True(a.Breaker.TryAcquire());
            a.Breaker.OnFailure("502");
        }
        var request = Request(Group([a]));
        request.Tried.Add(a);

        Assert.Null(Retry().NextDelay(request, Failed));
    }

    [Fact]
    public void No_retry_when_the_groups_retry_budget_is_spent_and_the_request_says_so()
    {
        var budget = new RetryBudget(new RetryOptions { BudgetRatio = 0, BudgetMinPerSecond = 0 }, _time);
        var request = Request(new ModelGroup("g", [Deployment("a"), Deployment("b")], new CountingStrategy(), budget));

        Assert.Null(Retry().NextDelay(request, Failed));
        Assert.True(request.OutOfRetryBudget);
    }

    [Fact]
    public void An_answered_request_or_one_too_long_for_the_group_is_never_tried_again_here()
    {
        var request = Request(Group([Deployment("a"), Deployment("b")]));

        Assert.Null(Retry().NextDelay(request, AttemptResult.Completed));
        Assert.Null(Retry().NextDelay(request, AttemptResult.BrokeOff("cut")));
        Assert.Null(Retry().NextDelay(request, AttemptResult.ContextTooLong("too long")));
    }

    private AttemptRetry Retry(Random? random = null) => new(_options, random ?? new Random(1), _time);

    private ForwardingRequest Request(ModelGroup group, TimeSpan? totalTime = null) =>
        new(new DefaultHttpContext(), group, ReadOnlyMemory<byte>.Empty, default, stream: false,
            (_time.GetUtcNow() + (totalTime ?? TimeSpan.FromMinutes(1))).UtcTicks);

    private ModelGroup Group(Deployment[] deployments, IRoutingStrategy? strategy = null) =>
        new("g", deployments, strategy ?? new CountingStrategy(), new RetryBudget(new RetryOptions(), _time));

    private Deployment Deployment(string name) => ModelGroupTests.Deployment(name, time: _time);

    private sealed class CountingStrategy : IRoutingStrategy
    {
        public int Picks { get; private set; }

        public string Name => "counting";

        public Deployment Pick(IReadOnlyList<Deployment> candidates)
        {
            Picks++;
            return candidates[0];
        }
    }
}

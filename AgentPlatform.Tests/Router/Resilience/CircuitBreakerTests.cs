using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Resilience;
using Microsoft.Extensions.Time.Testing;

namespace AgentPlatform.Tests.Router.Resilience;

public sealed class CircuitBreakerTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly RecordingListener _listener = new();

    private CircuitBreaker Breaker(CircuitBreakerOptions? options = null) =>
        new("g", "d", options ?? new CircuitBreakerOptions(), _time, _listener);

    private long Now => _time.GetUtcNow().UtcTicks;

    [Fact]
    public void Opens_after_consecutive_failures_and_refuses_requests_for_the_break()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 3, BreakDurationSeconds = 5 });

        breaker.OnFailure("500");
        breaker.OnFailure("500");
        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnFailure("500");

        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.Equal(_time.GetUtcNow().AddSeconds(5), breaker.OpenUntil);
        Assert.False(breaker.IsAvailable(Now));
        Assert.False(breaker.TryAcquire());
        Assert.Equal([CircuitState.Open], _listener.States);
    }

    [Fact]
    public void Suspect_failures_of_one_client_never_open_it()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 3, FailureRatio = 0.5, MinimumThroughput = 4 });

        for (var i = 0; i < 50; i++)
        {
            breaker.OnFailure("500", suspectedClient: "tenant-a");
        }

        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnFailure("500"); // and they are not waiting in the counts for a real failure to tip them
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void Suspect_failures_count_once_a_second_client_fails_alike_within_the_window()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 3, SuspectClients = 2, SamplingDurationSeconds = 30 });
        breaker.OnFailure("500", suspectedClient: "tenant-a");
        breaker.OnFailure("500", suspectedClient: "tenant-a");

        breaker.OnFailure("500", suspectedClient: "tenant-b"); // two clients now: this one counts
        breaker.OnFailure("500", suspectedClient: "tenant-a");
        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnFailure("500", suspectedClient: "tenant-a");

        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public void Suspect_clients_further_apart_than_the_window_do_not_add_up()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 2, SuspectClients = 2, SamplingDurationSeconds = 30 });
        breaker.OnFailure("500", suspectedClient: "tenant-a");

        _time.Advance(TimeSpan.FromSeconds(31));
        for (var i = 0; i < 10; i++)
        {
            breaker.OnFailure("500", suspectedClient: "tenant-b");
        }

        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void With_suspect_clients_at_one_a_suspect_failure_counts_like_any()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 2, SuspectClients = 1 });

        breaker.OnFailure("500", suspectedClient: "tenant-a");
        breaker.OnFailure("500", suspectedClient: "tenant-a");

        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public void A_half_open_probe_that_fails_suspectly_alone_lets_another_probe_go()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 1, BreakDurationSeconds = 5 });
        breaker.OnFailure("500");
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(breaker.TryAcquire());

        breaker.OnFailure("500", suspectedClient: "tenant-a");

        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void A_success_between_failures_resets_the_consecutive_count()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 3, MinimumThroughput = 1000 });

        breaker.OnFailure("500");
        breaker.OnFailure("500");
        breaker.OnSuccess();
        breaker.OnFailure("500");
        breaker.OnFailure("500");

        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void Opens_on_the_failure_ratio_once_the_window_has_enough_attempts()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 0, FailureRatio = 0.5, MinimumThroughput = 10, SamplingDurationSeconds = 30 });

        for (var i = 0; i < 4; i++)
        {
            breaker.OnSuccess();
            breaker.OnFailure("500");
        }
        Assert.Equal(CircuitState.Closed, breaker.State); // 4 of 8: too few attempts to judge

        breaker.OnSuccess();
        breaker.OnFailure("500");
        Assert.Equal(CircuitState.Open, breaker.State); // 5 of 10
    }

    [Fact]
    public void Failures_older_than_the_sampling_window_no_longer_count()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 0, FailureRatio = 0.5, MinimumThroughput = 4, SamplingDurationSeconds = 10 });
        breaker.OnFailure("500");
        breaker.OnFailure("500");
        breaker.OnSuccess();

        _time.Advance(TimeSpan.FromSeconds(11));
        breaker.OnSuccess();
        breaker.OnSuccess();
        breaker.OnSuccess();
        breaker.OnFailure("500");

        Assert.Equal(CircuitState.Closed, breaker.State); // 1 of 4 in the window
    }

    [Fact]
    public void After_the_break_one_probe_goes_through_and_its_success_closes_the_circuit()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 1, BreakDurationSeconds = 5 });
        breaker.OnFailure("500");

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(breaker.IsAvailable(Now));
        Assert.True(breaker.TryAcquire());
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.False(breaker.IsAvailable(Now));
        Assert.False(breaker.TryAcquire()); // one probe at a time

        breaker.OnSuccess();
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.True(breaker.TryAcquire());
        Assert.Equal([CircuitState.Open, CircuitState.HalfOpen, CircuitState.Closed], _listener.States);
    }

    [Fact]
    public void A_failed_probe_opens_the_circuit_again_for_twice_as_long_up_to_the_cap()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 1, BreakDurationSeconds = 5, MaxBreakDurationSeconds = 12 });
        breaker.OnFailure("500");

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(breaker.TryAcquire());
        breaker.OnFailure("500");
        Assert.Equal(_time.GetUtcNow().AddSeconds(10), breaker.OpenUntil);

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(breaker.TryAcquire());
        breaker.OnFailure("500");
        Assert.Equal(_time.GetUtcNow().AddSeconds(12), breaker.OpenUntil);
    }

    [Fact]
    public void An_abandoned_probe_lets_the_next_request_probe()
    {
        var breaker = Breaker(new() { ConsecutiveFailures = 1, BreakDurationSeconds = 1 });
        breaker.OnFailure("500");
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(breaker.TryAcquire());

        breaker.OnAbandoned();

        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void Adopts_an_open_state_from_another_replica_and_a_later_close()
    {
        var breaker = Breaker();

        breaker.Adopt(CircuitState.Open, _time.GetUtcNow().AddSeconds(7), breaks: 2);
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.IsAvailable(Now));
        Assert.Equal(2, breaker.Breaks);

        breaker.Adopt(CircuitState.Closed, default, 0);
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.All(_listener.Transitions, t => Assert.True(t.FromOtherReplica));
    }

    [Fact]
    public void An_open_state_that_has_already_ended_is_not_adopted()
    {
        var breaker = Breaker();

        breaker.Adopt(CircuitState.Open, _time.GetUtcNow().AddSeconds(-1), breaks: 1);

        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Empty(_listener.Transitions);
    }

    private sealed class RecordingListener : ICircuitBreakerListener
    {
        public List<CircuitTransition> Transitions { get; } = [];

        public IEnumerable<CircuitState> States => Transitions.Select(t => t.To);

        public void OnTransition(CircuitBreaker breaker, CircuitTransition transition) => Transitions.Add(transition);
    }
}

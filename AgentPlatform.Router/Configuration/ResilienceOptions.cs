using System.ComponentModel.DataAnnotations;

namespace AgentPlatform.Router.Configuration;

/// <summary><c>Router:Retry</c>: how often, how soon and how much a failed call is tried again.</summary>
public sealed class RetryOptions
{
    /// <summary>Attempts per request, the first included; each may go to a different deployment.</summary>
    [Range(1, 20, ErrorMessage = "Router:Retry:MaxAttempts must be between 1 and 20.")]
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The first backoff when every deployment has been tried; it doubles each round, with full jitter.</summary>
    [Range(0, 60_000, ErrorMessage = "Router:Retry:BaseDelayMs must be between 0 and 60000.")]
    public int BaseDelayMs { get; set; } = 200;

    /// <summary>The cap on one backoff.</summary>
    [Range(0, 300_000, ErrorMessage = "Router:Retry:MaxDelayMs must be between 0 and 300000.")]
    public int MaxDelayMs { get; set; } = 5_000;

    /// <summary>
    /// The longest a request waits for a throttled deployment's <c>Retry-After</c>; a longer wait
    /// answers 429 with the <c>Retry-After</c> instead.
    /// </summary>
    [Range(0, 3_600, ErrorMessage = "Router:Retry:MaxRetryAfterSeconds must be between 0 and 3600.")]
    public int MaxRetryAfterSeconds { get; set; } = 30;

    /// <summary>Retries allowed per request sent, over a 10-second window (0.2 = at most 20% extra load)...</summary>
    [Range(0.0, 10.0, ErrorMessage = "Router:Retry:BudgetRatio must be between 0.0 and 10.0.")]
    public double BudgetRatio { get; set; } = 0.2;

    /// <summary>...plus this many retries per second, so a quiet group can still retry.</summary>
    [Range(0, 100_000, ErrorMessage = "Router:Retry:BudgetMinPerSecond must be between 0 and 100000.")]
    public int BudgetMinPerSecond { get; set; } = 10;
}

/// <summary><c>Router:CircuitBreaker</c>: when a deployment is taken out of rotation, and for how long.</summary>
public sealed class CircuitBreakerOptions
{
    /// <summary>Opens when at least this share of the attempts in the sampling window failed...</summary>
    [Range(0.01, 1.0, ErrorMessage = "Router:CircuitBreaker:FailureRatio must be between 0.01 and 1.0.")]
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>...and the window holds at least this many attempts.</summary>
    [Range(1, 100_000, ErrorMessage = "Router:CircuitBreaker:MinimumThroughput must be between 1 and 100000.")]
    public int MinimumThroughput { get; set; } = 10;

    [Range(1, 3_600, ErrorMessage = "Router:CircuitBreaker:SamplingDurationSeconds must be between 1 and 3600.")]
    public int SamplingDurationSeconds { get; set; } = 30;

    /// <summary>Opens after this many failures in a row, whatever the window says; 0 turns it off.</summary>
    [Range(0, 100_000, ErrorMessage = "Router:CircuitBreaker:ConsecutiveFailures must be between 0 and 100000.")]
    public int ConsecutiveFailures { get; set; } = 5;

    /// <summary>The first break; each failed probe doubles it, up to <see cref="MaxBreakDurationSeconds"/>.</summary>
    [Range(0.05, 3_600, ErrorMessage = "Router:CircuitBreaker:BreakDurationSeconds must be between 0.05 and 3600.")]
    public double BreakDurationSeconds { get; set; } = 5;

    [Range(0.05, 86_400, ErrorMessage = "Router:CircuitBreaker:MaxBreakDurationSeconds must be between 0.05 and 86400.")]
    public double MaxBreakDurationSeconds { get; set; } = 120;

    /// <summary>
    /// A failure the request itself may have caused — the same 5xx from every deployment it tried —
    /// counts toward opening only while such failures have come from at least this many distinct
    /// clients (tenants, else keys) within the sampling window, so one client's poison requests cannot
    /// take a deployment away from everyone. 1 counts them like any other failure.
    /// </summary>
    [Range(1, 1_000, ErrorMessage = "Router:CircuitBreaker:SuspectClients must be between 1 and 1000.")]
    public int SuspectClients { get; set; } = 2;
}

/// <summary><c>Router:Timeouts</c>: how long a deployment may take, per phase of its answer.</summary>
public sealed class TimeoutOptions
{
    /// <summary>A request's whole life in the Router, retries and the streamed answer included.</summary>
    [Range(1, 86_400, ErrorMessage = "Router:Timeouts:TotalSeconds must be between 1 and 86400.")]
    public double TotalSeconds { get; set; } = 600;

    /// <summary>A stream's first bytes must arrive within this, or the next deployment is tried.</summary>
    [Range(0.05, 3_600, ErrorMessage = "Router:Timeouts:FirstTokenSeconds must be between 0.05 and 3600.")]
    public double FirstTokenSeconds { get; set; } = 60;

    /// <summary>A non-streamed answer must start arriving within this (it arrives only once generated).</summary>
    [Range(0.05, 3_600, ErrorMessage = "Router:Timeouts:ResponseSeconds must be between 0.05 and 3600.")]
    public double ResponseSeconds { get; set; } = 300;

    /// <summary>The longest silence between two reads of an answer that has started.</summary>
    [Range(0.05, 3_600, ErrorMessage = "Router:Timeouts:IdleSeconds must be between 0.05 and 3600.")]
    public double IdleSeconds { get; set; } = 30;
}

using System.Diagnostics;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.ServiceDefaults.Telemetry;
using AgentPlatform.Tokens;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Pipeline;

/// <summary>What a request or an agent's model step reserves before it is sent, and the most it may write.</summary>
public readonly record struct Sizing(long PromptTokens, long OutputTokens, decimal WorstCostUsd)
{
    public Demand Demand => new(PromptTokens + OutputTokens, BudgetPeriod.ToNanoUsd(WorstCostUsd));
}

/// <summary>Whether a sizing needs the pool's prices: not at all, when they are known, or to go on at all (a budget applies).</summary>
public enum Pricing
{
    Skip,
    IfKnown,
    Required,
}

/// <summary>
/// The one implementation of what every model call pays for — a chat completion and an agent's model
/// step alike: sized before it is sent (the tokens and worst-case cost its limits and budgets reserve),
/// priced and settled to what it used when it ends, and recorded (metrics and the usage ledger).
/// </summary>
public sealed class UsageMeter(
    PromptTokenEstimator estimator, PriceTable prices, UsageLedger ledger, UsageMetrics metrics, IOptions<ApiOptions> options, TimeProvider timeProvider, ILogger<UsageMeter> logger)
{
    private readonly int _defaultMaxOutputTokens = options.Value.DefaultMaxOutputTokens;

    public UsageMetrics Metrics => metrics;

    /// <summary>The answer when a budget applies and the pool's prices cannot be known.</summary>
    public static readonly OpenAIErrorResult BudgetUnavailable = OpenAIErrorResult.Unavailable(
        "The budget cannot be checked right now (the model pool's prices are unknown); try again shortly.", "budget_unavailable");

    /// <summary>A record for a request that has just arrived.</summary>
    public UsageRecord Start(HttpContext context)
    {
        metrics.Started();
        return new()
        {
            RequestId = context.TraceIdentifier,
            TraceId = Activity.Current is { Recorded: true } activity ? activity.TraceId.ToHexString() : null,
            Time = timeProvider.GetUtcNow(),
        };
    }

    /// <summary>
    /// Sizes a call to <paramref name="model"/>: its prompt plus the most it may write
    /// (<paramref name="requestedOutput"/>, else the group's <c>MaxOutputTokens</c>, else
    /// <see cref="ApiOptions.DefaultMaxOutputTokens"/>) once per answer asked for, at most
    /// <paramref name="outputCap"/>, priced at the most expensive deployment it could reach. Null when
    /// <paramref name="pricing"/> requires prices and they cannot be known (<see cref="BudgetUnavailable"/>).
    /// </summary>
    public async ValueTask<Sizing?> SizeAsync(
        string model, long prompt, long requestedOutput, int choices, long? outputCap, Pricing pricing, CancellationToken cancellationToken)
    {
        WorstCase? worst = null;
        if (pricing != Pricing.Skip)
        {
            worst = await prices.GetAsync(model, cancellationToken);
            if (worst is null && !prices.IsKnown && pricing == Pricing.Required)
            {
                Log.NoPricesForBudget(logger, LogText.Safe(model));
                return null;
            }
        }
        return Size(prompt, requestedOutput, choices, outputCap, worst, _defaultMaxOutputTokens);
    }

    /// <summary>The arithmetic of <see cref="SizeAsync"/>, given the group's worst case.</summary>
    internal static Sizing Size(long prompt, long requestedOutput, int choices, long? outputCap, WorstCase? worst, int defaultMaxOutputTokens)
    {
        var output = (requestedOutput > 0 ? requestedOutput : worst?.MaxOutputTokens ?? defaultMaxOutputTokens) * (long)choices;
        if (outputCap is { } cap)
        {
            output = Math.Min(output, cap);
        }
        var cost = worst?.Prices.CostOf(new TokenUsage(prompt, Math.Max(0, output), CachedInputTokens: 0)) ?? 0;
        return new Sizing(prompt, output, cost);
    }

    /// <summary>
    /// What a request reserves: its prompt by the tokenizer and the most it asks to write, as its door reads
    /// them (a chat completion's <c>max_completion_tokens</c> or <c>max_tokens</c> times its <c>n</c>; an
    /// embeddings request's input and no output; a Messages request's <c>max_tokens</c>); nothing is
    /// computed for a client without a tokens limit or budget.
    /// </summary>
    public async ValueTask<Sizing?> SizeRequestAsync(ChatCall call)
    {
        if (!call.Client.NeedsDemand)
        {
            return default(Sizing);
        }
        var pricing = call.Client.HasBudget ? Pricing.Required : Pricing.Skip;
        var (prompt, maxOutput) = estimator.Estimate(call.Body.Span, call.Scan.Model!, call.Api);
        // An embeddings request writes no output: nothing is reserved for it, whatever the group's MaxOutputTokens.
        return await SizeAsync(call.Scan.Model!, prompt, maxOutput, call.Scan.Choices, outputCap: call.Api.Embeds() ? 0 : null, pricing, call.Context.RequestAborted);
    }

    /// <summary>Prices what the record says was used, at the prices of the deployment that answered.</summary>
    public static void Price(UsageRecord record, Prices? prices)
    {
        if (prices is { } price)
        {
            record.CostUsd = price.CostOf(new TokenUsage(record.PromptTokens, record.CompletionTokens, record.CachedTokens, record.CacheWriteTokens));
        }
    }

    /// <summary>Replaces a reservation with what the record says was used and cost.</summary>
    public static ValueTask SettleAsync(RequestLease lease, UsageRecord record)
    {
        var (tokens, costNanoUsd) = Used(record);
        return lease.SettleAsync(tokens, costNanoUsd);
    }

    /// <summary>What a reservation is settled to: the record's tokens, and its cost in nano-dollars.</summary>
    public static (long Tokens, long CostNanoUsd) Used(UsageRecord record) => (record.TotalTokens, BudgetPeriod.ToNanoUsd(record.CostUsd));

    /// <summary>Fills in what a chat completion's answer used and cost: as the Router reported, else estimated from what reached the client.</summary>
    public void Measure(ChatCall call)
    {
        var (record, answer) = (call.Record, call.Answer);
        record.Deployment = answer.Deployment;
        record.OverheadMs = answer.OverheadMs;
        if (answer.Usage is { } report)
        {
            record.PromptTokens = report.Tokens.InputTokens;
            record.CachedTokens = report.Tokens.CachedInputTokens;
            record.CacheWriteTokens = report.Tokens.CacheWriteInputTokens;
            record.CompletionTokens = report.Tokens.OutputTokens;
            record.Estimated = report.Estimated;
            if (report.Interrupted)
            {
                record.Outcome = UsageOutcomes.Interrupted;
            }
        }
        else if (answer.Deployment is not null)
        {
            // A deployment answered but no usage arrived: the client left mid-stream (or the stream broke), or a
            // JSON answer was too large for the Router to hold whole and read first (a large batch of embeddings).
            if (record.PromptTokens == 0)
            {
                record.PromptTokens = estimator.Estimate(call.Body.Span, record.Model ?? "", call.Api).PromptTokens;
            }
            record.CompletionTokens = answer.ContentEvents;
            record.Estimated = true;
        }
        if (answer.Broken || answer.EndedByShutdown)
        {
            // The Router's stream broke (or the drain ended it) and the client's answer with it: not the client leaving.
            record.Outcome = UsageOutcomes.Interrupted;
        }
        Price(record, answer.Prices);
    }

    /// <summary>Counts a finished call in the metrics and hands its record to the ledger.</summary>
    /// <param name="knownModel">Whether the record's model is a group the pool knows (else it is no metric tag).</param>
    public ValueTask RecordAsync(UsageRecord record, bool knownModel)
    {
        metrics.Finished(record, knownModel);
        return ledger.RecordAsync(record);
    }

    /// <summary>Completes a chat completion's record (status, outcome, latency, its span's tags) and records it.</summary>
    public ValueTask FinishAsync(ChatCall call)
    {
        var (context, record) = (call.Context, call.Record);
        var status = context.Response.StatusCode;
        record.Status = status;
        if (record.LatencyMs == 0)
        {
            // (set already when the answer ended before its bookkeeping)
            record.LatencyMs = Math.Round(timeProvider.GetElapsedTime(call.Started).TotalMilliseconds, 3);
        }
        record.Cache = context.Response.Headers[RouterClient.CacheHeader] is { Count: > 0 } cache ? cache.ToString() : "bypass";
        if (status >= 400)
        {
            record.Outcome = call.Forwarded ? UsageOutcomes.Error : UsageOutcomes.Refused;
        }
        else if (context.RequestAborted.IsCancellationRequested && record.Outcome == UsageOutcomes.Success)
        {
            record.Outcome = UsageOutcomes.ClientAborted;
        }
        TagRequestSpan(context, record);
        // The model is a tag only when the pool knew it (the Router's 404 names one it does not know).
        return RecordAsync(record, knownModel: (call.Forwarded && status != StatusCodes.Status404NotFound) || record.Cache == "hit");
    }

    /// <summary>
    /// Puts what the request was and used on its server span, in OpenTelemetry's GenAI terms, so a
    /// trace in the dashboard says the model, tokens, cost and cache outcome without the usage ledger.
    /// </summary>
    private static void TagRequestSpan(HttpContext context, UsageRecord record)
    {
        if (context.Features.Get<IHttpActivityFeature>()?.Activity is not { IsAllDataRequested: true } span)
        {
            return;
        }
        span.SetTag("gen_ai.operation.name", "chat");
        span.SetTag("gen_ai.request.model", record.Model);
        span.SetTag("gen_ai.usage.input_tokens", record.PromptTokens);
        span.SetTag("gen_ai.usage.output_tokens", record.CompletionTokens);
        span.SetTag("agentplatform.deployment", record.Deployment);
        span.SetTag("agentplatform.tenant", record.TenantId);
        span.SetTag("agentplatform.key_id", record.KeyId);
        span.SetTag("agentplatform.cache", record.Cache);
        span.SetTag("agentplatform.cost_usd", (double)record.CostUsd);
        span.SetTag("agentplatform.outcome", record.Outcome);
    }
}

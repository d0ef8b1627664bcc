using System.Diagnostics;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.ServiceDefaults.Telemetry;
using AgentPlatform.Tokens;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// Sizes a chat completion before it is sent (the tokens and worst-case cost its limits and budgets
/// reserve) and, when it ends, works out what it used and cost and hands its record to the ledger.
/// </summary>
public sealed class UsageMeter(
    PromptTokenEstimator estimator, PriceTable prices, UsageLedger ledger, UsageMetrics metrics, IOptions<ApiOptions> options, TimeProvider timeProvider, ILogger<UsageMeter> logger)
{
    private readonly int _defaultMaxOutputTokens = options.Value.DefaultMaxOutputTokens;

    public UsageMetrics Metrics => metrics;

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
    /// What the request reserves: its prompt (by the tokenizer) plus the most it may write
    /// (<c>max_completion_tokens</c>/<c>max_tokens</c>, else the group's <c>MaxOutputTokens</c>, else
    /// <see cref="ApiOptions.DefaultMaxOutputTokens"/>), priced at the most expensive deployment it could
    /// reach, once per answer asked for (<c>n</c>). Nothing is computed for a client without a tokens limit
    /// or budget. Null (with 503 written) when a budget applies and the prices cannot be known.
    /// </summary>
    public async ValueTask<Demand?> DemandAsync(HttpContext context, ClientIdentity client, string model, int choices, ReadOnlyMemory<byte> body, UsageRecord record)
    {
        if (!client.NeedsDemand)
        {
            return default(Demand);
        }
        var (prompt, maxOutput) = estimator.Estimate(body.Span, model);
        record.PromptTokens = prompt; // until the answer says otherwise
        WorstCase? worst = null;
        if (client.HasBudget)
        {
            worst = await prices.GetAsync(model, context.RequestAborted);
            if (worst is null && !prices.IsKnown)
            {
                Log.NoPricesForBudget(logger, LogText.Safe(model));
                await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                    "The budget cannot be checked right now (the model pool's prices are unknown); try again shortly.", OpenAIError.Server, "budget_unavailable");
                return null;
            }
        }
        var output = (long)(maxOutput > 0 ? maxOutput : worst?.MaxOutputTokens ?? _defaultMaxOutputTokens) * choices;
        var cost = worst?.Prices.CostOf(new TokenUsage(prompt, output, CachedInputTokens: 0)) ?? 0;
        return new Demand(prompt + output, BudgetPeriod.ToNanoUsd(cost));
    }

    /// <summary>Fills in what the answer used and cost: as the Router reported, else estimated from what reached the client.</summary>
    public void Measure(UsageRecord record, RouterAnswer answer, ReadOnlySpan<byte> body)
    {
        record.Deployment = answer.Deployment;
        record.OverheadMs = answer.OverheadMs;
        if (answer.Usage is { } report)
        {
            record.PromptTokens = report.Tokens.InputTokens;
            record.CachedTokens = report.Tokens.CachedInputTokens;
            record.CompletionTokens = report.Tokens.OutputTokens;
            record.Estimated = report.Estimated;
            if (report.Interrupted)
            {
                record.Outcome = UsageOutcomes.Interrupted;
            }
        }
        else if (answer.Deployment is not null)
        {
            // A deployment answered but no usage arrived: the client left mid-stream (or the stream broke).
            if (record.PromptTokens == 0)
            {
                record.PromptTokens = estimator.Estimate(body, record.Model ?? "").PromptTokens;
            }
            record.CompletionTokens = answer.ContentEvents;
            record.Estimated = true;
        }
        if (answer.Broken || answer.EndedByShutdown)
        {
            // The Router's stream broke (or the drain ended it) and the client's answer with it: not the client leaving.
            record.Outcome = UsageOutcomes.Interrupted;
        }
        if (answer.Prices is { } price)
        {
            record.CostUsd = price.CostOf(new TokenUsage(record.PromptTokens, record.CompletionTokens, record.CachedTokens));
        }
    }

    /// <summary>Completes the record (status, outcome, latency) and hands it to the ledger.</summary>
    /// <param name="forwarded">Whether the request got past the Api's own checks to the Router.</param>
    public ValueTask FinishAsync(HttpContext context, UsageRecord record, long started, bool forwarded)
    {
        var status = context.Response.StatusCode;
        record.Status = status;
        if (record.LatencyMs == 0)
        {
            // (set already when the answer ended before its bookkeeping)
            record.LatencyMs = Math.Round(timeProvider.GetElapsedTime(started).TotalMilliseconds, 3);
        }
        record.Cache = context.Response.Headers[RouterClient.CacheHeader] is { Count: > 0 } cache ? cache.ToString() : "bypass";
        if (status >= 400)
        {
            record.Outcome = forwarded ? UsageOutcomes.Error : UsageOutcomes.Refused;
        }
        else if (context.RequestAborted.IsCancellationRequested && record.Outcome == UsageOutcomes.Success)
        {
            record.Outcome = UsageOutcomes.ClientAborted;
        }
        TagRequestSpan(context, record);
        // The model is a tag only when the pool knew it (the Router's 404 names one it does not know).
        metrics.Finished(record, knownModel: (forwarded && status != StatusCodes.Status404NotFound) || record.Cache == "hit");
        return ledger.RecordAsync(record);
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

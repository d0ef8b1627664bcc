using System.Text;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.Usage;
using Microsoft.AspNetCore.Http;

namespace AgentPlatform.Tests.Api.Pipeline;

/// <summary>The edge pipeline's stages alone, without a host: what a request and an agent step reserve, and the request's own checks.</summary>
public sealed class StageTests
{
    private static readonly WorstCase Group = new("gpt-4o", InputPerMillion: 2.5, CachedInputPerMillion: 1.25, OutputPerMillion: 10, MaxOutputTokens: 4096);

    [Fact]
    public void A_call_reserves_its_prompt_and_the_most_it_may_write_per_answer_at_the_worst_prices()
    {
        var sizing = UsageMeter.Size(prompt: 1000, requestedOutput: 500, choices: 2, outputCap: null, Group, defaultMaxOutputTokens: 8192);

        Assert.Equal(1000, sizing.PromptTokens);
        Assert.Equal(1000, sizing.OutputTokens); // 500 for each of the two answers
        Assert.Equal(1000 * 2.5m / 1_000_000 + 1000 * 10m / 1_000_000, sizing.WorstCostUsd);
        Assert.Equal(new(2000, 12_500_000), sizing.Demand); // tokens, and the cost in nano-dollars
    }

    [Fact]
    public void Without_max_tokens_a_call_reserves_the_groups_output_limit_else_the_default()
    {
        Assert.Equal(4096, UsageMeter.Size(10, requestedOutput: 0, choices: 1, outputCap: null, Group, defaultMaxOutputTokens: 8192).OutputTokens);
        Assert.Equal(8192, UsageMeter.Size(10, requestedOutput: 0, choices: 1, outputCap: null, Group with { MaxOutputTokens = null }, 8192).OutputTokens);
        // Prices unknown (no budget asked for them): tokens are reserved, no cost.
        var unpriced = UsageMeter.Size(10, requestedOutput: 0, choices: 1, outputCap: null, worst: null, 8192);
        Assert.Equal((8192, 0m), (unpriced.OutputTokens, unpriced.WorstCostUsd));
    }

    [Fact]
    public void An_agent_step_is_capped_at_what_is_left_of_its_runs_tokens()
    {
        var step = UsageMeter.Size(prompt: 300, requestedOutput: 0, choices: 1, outputCap: 200, Group, 8192);

        Assert.Equal(200, step.OutputTokens);
        Assert.Equal(300 * 2.5m / 1_000_000 + 200 * 10m / 1_000_000, step.WorstCostUsd);
        // Nothing left: a negative allowance, which the run takes as its stop; no negative cost is reserved.
        var spent = UsageMeter.Size(prompt: 300, requestedOutput: 0, choices: 1, outputCap: -50, Group, 8192);
        Assert.Equal((-50, 300 * 2.5m / 1_000_000), (spent.OutputTokens, spent.WorstCostUsd));
    }

    [Fact]
    public void What_was_used_is_priced_at_the_answering_deployments_prices_and_settled_as_tokens_and_nano_dollars()
    {
        var record = new UsageRecord { PromptTokens = 1000, CachedTokens = 400, CompletionTokens = 100 };

        UsageMeter.Price(record, new Prices(2.5, 1.25, 10));

        Assert.Equal(600 * 2.5m / 1_000_000 + 400 * 1.25m / 1_000_000 + 100 * 10m / 1_000_000, record.CostUsd);
        Assert.Equal(1100, record.TotalTokens);
        Assert.Equal(3_000_000, BudgetPeriod.ToNanoUsd(record.CostUsd));
    }

    [Theory]
    [InlineData("""{"model":"gpt-4o","n":9,"messages":[{"role":"user","content":"hi"}]}""", 400, "invalid_value")]
    [InlineData("""{"model":"claude","messages":[{"role":"user","content":"hi"}]}""", 403, "model_not_allowed")]
    [InlineData("""{"model":"gpt-4o","n":2,"messages":[{"role":"user","content":"hi"}]}""", 0, null)]
    public async Task A_request_asks_for_at_most_the_answers_allowed_of_a_model_its_key_may_use(string body, int status, string? code)
    {
        var key = new VirtualKey { Id = "key_1", Name = "k", TenantId = "ten_1", Models = ["gpt-4o"] };
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
        var record = new UsageRecord();
        var call = new ChatCall(context, new ClientIdentity(key, new Tenant { Id = "ten_1", Name = "t" }), record, started: 0, pipeline: null!);

        Assert.Null(await ChatRequestChecks.ReadAsync(call, maxBytes: 4096));
        var refusal = ChatRequestChecks.Check(call, maxChoices: 4);

        Assert.Equal((status, code), (refusal?.StatusCode ?? 0, refusal?.Code));
        // The model's name is kept in the record only once the key may use it.
        Assert.Equal(refusal is null ? "gpt-4o" : UsageRecord.UnknownModel, record.Model);
        call.Body.Dispose();
    }
}

using AgentPlatform.Web.Components.Keys;
using AgentPlatform.Web.Platform;
using Bunit;

namespace AgentPlatform.Tests.Web;

/// <summary>The bar of a budget's use this period, and the limits form it is edited with.</summary>
public sealed class BudgetBarTests : BunitContext
{
    [Theory]
    [InlineData(2.5, 10, "monthly", "ok", "25", "$2.50 of $10.00 this month (25%)")]
    [InlineData(8.5, 10, "daily", "high", "85", "$8.50 of $10.00 today (85%)")]
    [InlineData(12, 10, "weekly", "exhausted", "100", "$12.00 of $10.00 this week (120%)")]
    [InlineData(0.0123, 0.05, "none", "ok", "24.6", "$0.0123 of $0.05 in all (25%)")]
    [InlineData(0, 0, "monthly", "exhausted", "100", "$0.00 of $0.00 this month (100%)")]
    public void The_bar_fills_to_the_share_spent_and_says_it_in_words(double spent, double budget, string period, string level, string width, string text)
    {
        var cut = Render<BudgetBar>(parameters => parameters
            .Add(b => b.Owner, "acme")
            .Add(b => b.Spent, (decimal)spent)
            .Add(b => b.Budget, (decimal)budget)
            .Add(b => b.Period, period)
            .Add(b => b.TestId, "bar"));

        Assert.Contains(level, cut.Find("[data-testid=bar]").ClassList);
        Assert.Equal($"width: {width}%", cut.Find(".fill").GetAttribute("style"));
        Assert.Equal(text, cut.Find(".text").TextContent);
        var meter = cut.Find("[role=meter]");
        Assert.Equal("Budget used by acme", meter.GetAttribute("aria-label"));
        Assert.Equal(text, meter.GetAttribute("aria-valuetext"));
    }

    [Fact]
    public void Without_a_budget_it_says_what_was_spent()
    {
        var cut = Render<BudgetBar>(parameters => parameters
            .Add(b => b.Owner, "acme")
            .Add(b => b.Spent, 3.2m)
            .Add(b => b.Period, "monthly"));

        Assert.Empty(cut.FindAll("[role=meter]"));
        Assert.Equal("$3.20 this month, no budget", cut.Find(".budget-none").TextContent);
    }

    [Fact]
    public void The_edit_form_starts_from_what_is_set_and_reads_empty_as_no_limit()
    {
        var form = LimitsForm.From("team", rpm: 600, budgetUsd: 25.5m, budgetPeriod: "weekly");
        var unlimited = LimitsForm.From("team", rpm: null, budgetUsd: null, budgetPeriod: "none");

        Assert.Equal(("600", "25.5", "weekly"), (form.Rpm, form.BudgetUsd, form.BudgetPeriod));
        Assert.Equal(("", "", "monthly"), (unlimited.Rpm, unlimited.BudgetUsd, unlimited.BudgetPeriod));
        Assert.Null(unlimited.ParsedRpm);
        Assert.Null(unlimited.Problem());
    }
}

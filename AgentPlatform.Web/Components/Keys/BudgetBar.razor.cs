using System.Globalization;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Keys;

/// <summary>
/// A bar of what is spent of a budget this period: amber from 80%, red at 100% (where requests are
/// refused with 402). Without a budget, what was spent in words.
/// </summary>
public sealed partial class BudgetBar : ComponentBase
{
    /// <summary>The tenant or key the bar is about, for screen readers.</summary>
    [Parameter, EditorRequired]
    public string Owner { get; set; } = "";

    [Parameter]
    public decimal Spent { get; set; }

    /// <summary>Null: no budget.</summary>
    [Parameter]
    public decimal? Budget { get; set; }

    /// <summary>The budget's period: <c>daily</c>, <c>weekly</c>, <c>monthly</c> or <c>none</c> (never resets).</summary>
    [Parameter]
    public string Period { get; set; } = "none";

    [Parameter]
    public string? TestId { get; set; }

    /// <summary>Share of the budget spent, 0 to 100 (a budget of 0 is all spent).</summary>
    internal double Percent => Budget is not { } budget ? 0 : budget == 0 ? 100 : Math.Min(100, (double)(Spent / budget * 100));

    internal string Level => Budget is null ? "" : Percent >= 100 ? "exhausted" : Percent >= 80 ? "high" : "ok";

    internal string Text => Budget is { } budget
        ? $"{Format(Spent)} of {Format(budget)} {PeriodWords} ({(budget == 0 ? 100 : Spent / budget * 100).ToString("0", CultureInfo.InvariantCulture)}%)"
        : $"{Format(Spent)} this month, no budget"; // without a budget, spend is the ledger's for the calendar month

    private string PeriodWords => Period switch
    {
        "daily" => "today",
        "weekly" => "this week",
        "monthly" => "this month",
        _ => "in all",
    };

    private static string Format(decimal usd) => "$" + usd.ToString(usd is > 0 and < 1 ? "0.00####" : "N2", CultureInfo.InvariantCulture);
}

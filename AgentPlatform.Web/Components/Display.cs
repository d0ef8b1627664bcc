using System.Globalization;

namespace AgentPlatform.Web.Components;

/// <summary>How the console's pages write a duration and an amount, so the same value reads the same everywhere.</summary>
public static class Display
{
    /// <summary>A duration in ms: one decimal under 10 ms, whole ms above; "—" when there is none.</summary>
    public static string Ms(double? ms) =>
        ms is { } value ? value.ToString(value < 10 ? "0.0" : "N0", CultureInfo.InvariantCulture) + " ms" : "—";

    /// <summary>USD, with six decimals for amounts under a cent (a single call's cost), else two.</summary>
    public static string Usd(decimal usd) => "$" + usd.ToString(usd is > 0 and < 0.01m ? "0.000000" : "N2", CultureInfo.InvariantCulture);
}
